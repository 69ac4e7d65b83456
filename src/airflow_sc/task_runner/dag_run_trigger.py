"""A ``TriggerDagRunOperator``'s request, performed by the task runner through the execution API.

The operator's ``execute`` does no I/O: it raises `DagRunTriggerException`. As in Airflow 3,
the runner turns that into calls of the execution API (``trigger_dag_run``, then
``get_dag_run_state`` at once and every ``poke_interval`` seconds while it waits) and
decides how the try ends:

- the run was created (or, with ``reset_dag_run``, the existing run was cleared): its id
  is pushed as the ``trigger_run_id`` XCom; without ``wait_for_completion`` the try
  succeeds;
- the run already exists: the try is skipped with ``skip_when_already_exists``, else it
  fails without retrying (another try would find the same run);
- the DAG is paused and ``fail_when_dag_is_paused`` is set: `DagIsPaused`, a failure that
  retries apply to;
- while waiting, the run reaches one of ``allowed_states``: success; one of
  ``failed_states``: the try fails without retrying, as in Airflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome
from airflow_sc.sdk._task_client import TaskClient
from airflow_sc.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    DagIsPaused,
    DagRunTriggerException,
)

__all__ = ["XCOM_RUN_ID", "DagRunClient", "request_of", "trigger_dag_run"]

#: The XCom key holding the id of the run a ``TriggerDagRunOperator`` started (Airflow's).
XCOM_RUN_ID = "trigger_run_id"


@runtime_checkable
class DagRunClient(Protocol):
    """The execution API's DAG-run operations, as a try's client offers them."""

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        """Create the run (or clear it, or say why not); raises when the API refuses."""
        ...

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state; None when there is no such run."""
        ...


def request_of(exc: DagRunTriggerException) -> DagRunTrigger:
    """The execution protocol's request for what the operator raised."""
    return DagRunTrigger(
        dag_id=exc.trigger_dag_id,
        run_id=exc.dag_run_id,
        conf=dict(exc.conf),
        logical_date=exc.logical_date,
        run_after=exc.run_after,
        reset_dag_run=exc.reset_dag_run,
        fail_when_dag_is_paused=exc.fail_when_dag_is_paused,
        note=exc.note,
    )


def trigger_dag_run(
    exc: DagRunTriggerException,
    client: TaskClient,
    *,
    log: logging.Logger,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Perform the request `exc` carries; return when the try succeeds, raise otherwise.

    Called in the try's thread (it may wait ``poke_interval`` seconds at a time).
    """
    if not isinstance(client, DagRunClient):
        raise AirflowException("this task runner cannot trigger DAG runs")
    dag_id, run_id = exc.trigger_dag_id, exc.dag_run_id
    log.info("Triggering DAG %s, run %s", dag_id, run_id)
    outcome = client.trigger_dag_run(request_of(exc))
    if outcome is TriggerOutcome.PAUSED:
        raise DagIsPaused(dag_id)
    if outcome is TriggerOutcome.EXISTS:
        if exc.skip_when_already_exists:
            raise AirflowSkipException(
                f"DAG {dag_id} already has run {run_id} (skip_when_already_exists)"
            )
        raise AirflowFailException(f"DAG {dag_id} already has run {run_id} (or its logical date)")
    if outcome is TriggerOutcome.RESET:
        log.info("Cleared the existing run %s of DAG %s (reset_dag_run)", run_id, dag_id)
    else:
        log.info("Triggered DAG %s, run %s", dag_id, run_id)
    client.xcom_push(XCOM_RUN_ID, run_id)
    if exc.wait_for_completion:
        _wait(exc, client, log=log, sleep=sleep)


def _wait(
    exc: DagRunTriggerException,
    client: DagRunClient,
    *,
    log: logging.Logger,
    sleep: Callable[[float], None],
) -> None:
    dag_id, run_id = exc.trigger_dag_id, exc.dag_run_id
    log.info("Waiting for run %s of DAG %s to reach one of %s", run_id, dag_id, exc.allowed_states)
    while True:
        # Read first, then wait: a client that cannot answer fails at once.
        state = client.dag_run_state(dag_id, run_id)
        if state is None:
            raise AirflowException(f"run {run_id} of DAG {dag_id} no longer exists")
        if state in exc.failed_states:
            raise AirflowFailException(f"run {run_id} of DAG {dag_id} ended {state}")
        if state in exc.allowed_states:
            log.info("Run %s of DAG %s ended %s", run_id, dag_id, state)
            return
        log.debug("Run %s of DAG %s is %s", run_id, dag_id, state)
        sleep(exc.poke_interval)
