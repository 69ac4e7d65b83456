"""A TriggerDagRunOperator's try: what the runner asks the execution API, and how the try
ends for each answer (created, reset, existing, paused; the run's states while waiting)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome
from airflow_sc.sdk import DAG, DagRunTriggerException, TriggerDagRunOperator
from airflow_sc.sdk.context import RunInfo
from airflow_sc.sdk.exceptions import AirflowFailException, AirflowSkipException, DagIsPaused
from airflow_sc.task_runner import InMemoryTaskClient, TaskOutcome, arun_task, run_task
from airflow_sc.task_runner.dag_run_trigger import trigger_dag_run

TI = TaskInstanceState
LOG = logging.getLogger("tests.task_runner")
WHEN = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)


@dataclass
class ScriptedRuns:
    """The in-memory client (XComs, variables), answering triggers with `answer` and a
    run's state from a script (one state per poll); `sleeps` records every wait and
    `threads` the thread of every poll."""

    answer: TriggerOutcome = TriggerOutcome.CREATED
    script: list[str] = field(default_factory=list)
    polls: int = 0
    sleeps: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    triggered: list[DagRunTrigger] = field(default_factory=list)
    store: InMemoryTaskClient = field(
        default_factory=lambda: InMemoryTaskClient(dag_id="ctl", run_id="r1", task_id="kick")
    )

    def __getattr__(self, name: str) -> Any:  # the TaskClient operations
        return getattr(self.store, name)

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        self.triggered.append(request)
        return self.answer

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        self.polls += 1
        self.threads.append(threading.get_ident())
        return self.script.pop(0) if self.script else None


def client(**kwargs: Any) -> ScriptedRuns:
    return ScriptedRuns(**kwargs)


def request(**kwargs: Any) -> DagRunTriggerException:
    args: dict[str, Any] = {
        "trigger_dag_id": "target",
        "dag_run_id": "child-1",
        "conf": {"n": 1},
        "logical_date": WHEN,
        "reset_dag_run": False,
        "skip_when_already_exists": False,
        "wait_for_completion": False,
        "allowed_states": ["success"],
        "failed_states": ["failed"],
        "poke_interval": 7,
        "deferrable": False,
    }
    return DagRunTriggerException(**{**args, **kwargs})


def perform(exc: DagRunTriggerException, runs: ScriptedRuns) -> None:
    trigger_dag_run(exc, runs, log=LOG, sleep=runs.sleeps.append)


def test_a_created_run_is_requested_in_full_and_its_id_pushed() -> None:
    runs = client()
    perform(request(run_after=WHEN, note="from ctl", fail_when_dag_is_paused=True), runs)
    assert runs.triggered == [
        DagRunTrigger(
            dag_id="target",
            run_id="child-1",
            conf={"n": 1},
            logical_date=WHEN,
            run_after=WHEN,
            reset_dag_run=False,
            fail_when_dag_is_paused=True,
            note="from ctl",
        )
    ]
    assert runs.xcom_pull("kick", "trigger_run_id") == "child-1"
    assert (runs.polls, runs.sleeps) == (0, [])


def test_waiting_polls_every_poke_interval_until_an_allowed_state() -> None:
    runs = client(script=["queued", "running", "running", "success"])
    perform(request(wait_for_completion=True), runs)
    assert runs.polls == 4
    assert runs.sleeps == [7, 7, 7]


def test_a_failed_state_fails_the_try_without_retry() -> None:
    runs = client(script=["running", "failed"])
    with pytest.raises(AirflowFailException, match="child-1 of DAG target ended failed"):
        perform(request(wait_for_completion=True), runs)


def test_custom_allowed_and_failed_states() -> None:
    runs = client(script=["running", "failed"])
    perform(
        request(wait_for_completion=True, allowed_states=["failed"], failed_states=["success"]),
        runs,
    )
    assert runs.polls == 2
    runs = client(script=["success"])
    with pytest.raises(AirflowFailException):
        perform(
            request(wait_for_completion=True, allowed_states=["failed"], failed_states=["success"]),
            runs,
        )


def test_a_run_that_disappears_while_waited_for_fails_the_try() -> None:
    with pytest.raises(Exception, match="no longer exists"):
        perform(request(wait_for_completion=True), client(script=["running"]))


def test_an_existing_run_fails_or_skips() -> None:
    runs = client(answer=TriggerOutcome.EXISTS)
    with pytest.raises(AirflowFailException, match="already has run child-1"):
        perform(request(), runs)
    with pytest.raises(AirflowSkipException, match="skip_when_already_exists"):
        perform(request(skip_when_already_exists=True), runs)
    assert runs.xcom_pull("kick", "trigger_run_id") is None


def test_a_reset_run_is_waited_for_like_a_new_one() -> None:
    runs = client(answer=TriggerOutcome.RESET, script=["success"])
    perform(request(reset_dag_run=True, wait_for_completion=True), runs)
    assert runs.triggered[0].reset_dag_run is True
    assert runs.xcom_pull("kick", "trigger_run_id") == "child-1"


def test_a_paused_dag_raises_dag_is_paused() -> None:
    with pytest.raises(DagIsPaused, match="target is paused"):
        perform(request(fail_when_dag_is_paused=True), client(answer=TriggerOutcome.PAUSED))


# -- through the task runner: the try's state -----------------------------------------------


def controller(**kwargs: Any) -> TriggerDagRunOperator:
    with DAG("ctl", schedule=None, start_date=dt.datetime(2024, 1, 1)):
        return TriggerDagRunOperator(
            task_id="kick",
            trigger_dag_id="target",
            trigger_run_id="child-{{ ds_nodash }}",
            poke_interval=0,
            **kwargs,
        )


def run_info() -> RunInfo:
    return RunInfo(
        run_id="r1",
        run_after=WHEN,
        logical_date=WHEN,
        data_interval_start=WHEN,
        data_interval_end=WHEN,
        conf={},
        dag_id="ctl",
    )


def run(op: TriggerDagRunOperator, runs: ScriptedRuns) -> TaskOutcome:
    return run_task(op, dag=op.dag, run=run_info(), try_number=1, client=runs, log=LOG)


@pytest.mark.parametrize(
    ("answer", "script", "options", "state"),
    [
        (TriggerOutcome.CREATED, [], {}, TI.SUCCESS),
        (TriggerOutcome.CREATED, ["running", "success"], {"wait_for_completion": True}, TI.SUCCESS),
        (TriggerOutcome.CREATED, ["failed"], {"wait_for_completion": True}, TI.FAILED),
        (TriggerOutcome.EXISTS, [], {}, TI.FAILED),
        (TriggerOutcome.EXISTS, [], {"skip_when_already_exists": True}, TI.SKIPPED),
        (TriggerOutcome.PAUSED, [], {"fail_when_dag_is_paused": True}, TI.UP_FOR_RETRY),
    ],
)
def test_the_try_ends_as_airflow_ends_it(
    answer: TriggerOutcome, script: list[str], options: dict[str, Any], state: TI
) -> None:
    op = controller(retries=1, **options)
    outcome = run(op, client(answer=answer, script=list(script)))
    assert outcome.state is state


def test_an_async_runner_waits_in_a_worker_thread(anyio_backend: str) -> None:
    op = controller(wait_for_completion=True)
    runs = client(script=["running", "success"])

    async def main() -> tuple[TaskOutcome, int]:
        outcome = await arun_task(
            op, dag=op.dag, run=run_info(), try_number=1, client=runs, log=LOG
        )
        return outcome, threading.get_ident()

    outcome, loop_thread = anyio.run(main, backend=anyio_backend)
    assert outcome.state is TI.SUCCESS
    assert runs.polls == 2
    assert loop_thread not in runs.threads
