"""Exceptions with Airflow's names, raised by DAG files and by task code.

Task code raises `AirflowSkipException`, `AirflowFailException`, `AirflowRescheduleException`,
`TaskDeferred` or `DagRunTriggerException` to tell the task runner what to do next; any other
exception is a failure that may be retried. Parse-time mistakes in a DAG file raise a
`DagDefinitionError` that names the user's file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AirflowConfigException",
    "AirflowDagCycleException",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowRescheduleException",
    "AirflowSkipException",
    "AirflowTaskTerminated",
    "AirflowTaskTimeout",
    "DagDefinitionError",
    "DagIsPaused",
    "DagRunTriggerException",
    "DuplicateTaskIdFound",
    "TaskDeferred",
]


class AirflowException(Exception):
    """Base of Airflow's exceptions; raised by task code it fails the try (retries apply)."""


class AirflowSkipException(AirflowException):
    """Raised by task code: mark this task instance SKIPPED."""


class AirflowFailException(AirflowException):
    """Raised by task code: fail this task instance now, without retrying."""


class AirflowNotFoundException(AirflowException):
    """Something looked up (a connection, a variable, a resource) does not exist."""


class AirflowConfigException(AirflowException):
    """A configuration option is missing or has a value of the wrong kind."""


class AirflowTaskTimeout(AirflowException):
    """The try ran longer than the task's ``execution_timeout`` (it may be retried)."""


class AirflowTaskTerminated(AirflowException):
    """The try was terminated from outside (SIGTERM: stopped, cleared, shutting down)."""


class AirflowRescheduleException(AirflowException):
    """Raised by a sensor in reschedule mode: run this task again at `reschedule_date`."""

    def __init__(self, reschedule_date: dt.datetime) -> None:
        super().__init__(f"Reschedule to {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date


class TaskDeferred(Exception):
    """Raised by task code: suspend the task until `trigger` fires, then call `method_name`."""

    def __init__(
        self,
        *,
        trigger: Any,
        method_name: str,
        kwargs: Mapping[str, Any] | None = None,
        timeout: dt.timedelta | None = None,
    ) -> None:
        super().__init__(f"Task deferred to {method_name!r} on trigger {trigger!r}")
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = dict(kwargs or {})
        self.timeout = timeout


class DagRunTriggerException(AirflowException):
    """Raised by `TriggerDagRunOperator.execute`: the task runner turns it into an API call.

    It carries the whole request: which DAG to trigger, the new run's id, conf and logical
    date, what to do when the run already exists, and whether (and how) to wait for it.
    """

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        dag_run_id: str,
        conf: Mapping[str, Any] | None,
        logical_date: dt.datetime | None,
        reset_dag_run: bool,
        skip_when_already_exists: bool,
        wait_for_completion: bool,
        allowed_states: Sequence[str],
        failed_states: Sequence[str],
        poke_interval: float,
        deferrable: bool,
        run_after: dt.datetime | None = None,
        note: str | None = None,
        fail_when_dag_is_paused: bool = False,
    ) -> None:
        super().__init__(f"Trigger DAG {trigger_dag_id!r} with run id {dag_run_id!r}")
        self.trigger_dag_id = trigger_dag_id
        self.dag_run_id = dag_run_id
        self.conf = dict(conf or {})
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.skip_when_already_exists = skip_when_already_exists
        self.wait_for_completion = wait_for_completion
        self.allowed_states = list(allowed_states)
        self.failed_states = list(failed_states)
        self.poke_interval = poke_interval
        self.deferrable = deferrable
        self.run_after = run_after
        self.note = note
        self.fail_when_dag_is_paused = fail_when_dag_is_paused


class DagIsPaused(AirflowException):
    """The DAG a ``TriggerDagRunOperator`` with ``fail_when_dag_is_paused`` targets is paused."""

    def __init__(self, dag_id: str) -> None:
        super().__init__(f"Dag {dag_id} is paused")
        self.dag_id = dag_id


class DagDefinitionError(AirflowException, ValueError):
    """A mistake in a DAG file, found while it is parsed; `filename`/`lineno` point at it."""

    def __init__(self, message: str, *, filename: str | None = None, lineno: int | None = None):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        where = f"{filename}:{lineno}: " if filename and lineno else ""
        super().__init__(f"{where}{message}")


class AirflowDagCycleException(DagDefinitionError):
    """The DAG's dependencies form a cycle; `cycle` lists the task ids along it."""

    def __init__(
        self,
        message: str,
        *,
        cycle: Sequence[str] = (),
        filename: str | None = None,
        lineno: int | None = None,
    ) -> None:
        super().__init__(message, filename=filename, lineno=lineno)
        self.cycle = list(cycle)


class DuplicateTaskIdFound(DagDefinitionError):
    """Two tasks (or a task and a task group) in one DAG share an id."""
