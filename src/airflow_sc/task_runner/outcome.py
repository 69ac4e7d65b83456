"""`TaskOutcome`: what one try of a task ended in, as data for whoever runs it.

The runner decides the state and runs the task's callbacks; the caller (an executor's
worker, ``dags test``) records the state and performs the requests the outcome carries:
skipping the tasks in ``skip``, triggering the DAG run in ``trigger``, handing ``deferral``
to the triggerer, or running the task again at ``reschedule_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.sdk.exceptions import DagRunTriggerException, TaskDeferred

__all__ = ["DagRunTriggerRequest", "Deferral", "TaskOutcome"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DagRunTriggerRequest:
    """A ``TriggerDagRunOperator``'s request to start a run of another DAG."""

    trigger_dag_id: str
    dag_run_id: str
    conf: Mapping[str, Any]
    logical_date: dt.datetime | None
    reset_dag_run: bool
    skip_when_already_exists: bool
    wait_for_completion: bool
    allowed_states: Sequence[str]
    failed_states: Sequence[str]
    poke_interval: float
    deferrable: bool

    @classmethod
    def from_exception(cls, exc: DagRunTriggerException) -> DagRunTriggerRequest:
        return cls(
            trigger_dag_id=exc.trigger_dag_id,
            dag_run_id=exc.dag_run_id,
            conf=dict(exc.conf),
            logical_date=exc.logical_date,
            reset_dag_run=exc.reset_dag_run,
            skip_when_already_exists=exc.skip_when_already_exists,
            wait_for_completion=exc.wait_for_completion,
            allowed_states=tuple(exc.allowed_states),
            failed_states=tuple(exc.failed_states),
            poke_interval=exc.poke_interval,
            deferrable=exc.deferrable,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Deferral:
    """A task suspended until `trigger` fires; then `method_name` resumes it."""

    trigger: Any
    method_name: str
    kwargs: Mapping[str, Any]
    timeout: dt.timedelta | None

    @classmethod
    def from_exception(cls, exc: TaskDeferred) -> Deferral:
        return cls(
            trigger=exc.trigger,
            method_name=exc.method_name,
            kwargs=dict(exc.kwargs),
            timeout=exc.timeout,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskOutcome:
    """How one try ended.

    ``state`` is SUCCESS, SKIPPED, FAILED, UP_FOR_RETRY (failed, and the task's retries
    allow another try), DEFERRED or UP_FOR_RESCHEDULE. ``retry_allowed`` is False when the
    task code forbade retries (``AirflowFailException``); ``error`` is the traceback text
    of a failure (or the reason of a skip).
    """

    state: TaskInstanceState
    try_number: int
    duration: float
    return_value: Any = None
    error: str | None = None
    retry_allowed: bool = True
    skip: frozenset[str] = field(default_factory=frozenset)
    trigger: DagRunTriggerRequest | None = None
    deferral: Deferral | None = None
    reschedule_at: dt.datetime | None = None

    @property
    def failed(self) -> bool:
        """The try failed (whether or not another one follows)."""
        return self.state in (TaskInstanceState.FAILED, TaskInstanceState.UP_FOR_RETRY)
