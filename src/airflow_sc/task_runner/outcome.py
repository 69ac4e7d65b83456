"""`TaskOutcome`: what one try of a task ended in, as data for whoever runs it.

The runner decides the state and runs the task's callbacks; the caller (an executor's
worker, ``dags test``) records the state and performs the requests the outcome carries:
skipping the tasks in ``skip``, handing ``deferral`` to the triggerer, or running the task
again at ``reschedule_at``. (A ``TriggerDagRunOperator``'s run is triggered by the runner
itself, through the try's client: `airflow_sc.task_runner.dag_run_trigger`.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.sdk.exceptions import TaskDeferred

__all__ = ["Deferral", "TaskOutcome"]


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
    task code forbade retries (``AirflowFailException``); ``retry_delay`` is the delay
    (seconds) the task's retry policy chose for the next try; ``error`` is the traceback
    text of a failure (or the reason of a skip).
    """

    state: TaskInstanceState
    try_number: int
    duration: float
    return_value: Any = None
    error: str | None = None
    retry_allowed: bool = True
    retry_delay: float | None = None
    skip: frozenset[str] = field(default_factory=frozenset)
    deferral: Deferral | None = None
    reschedule_at: dt.datetime | None = None

    @property
    def failed(self) -> bool:
        """The try failed (whether or not another one follows)."""
        return self.state in (TaskInstanceState.FAILED, TaskInstanceState.UP_FOR_RETRY)
