"""How a finished try becomes a `TaskEvent`, and how it is reported (shared by the local and
in-process executors)."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.executors.base import TaskEvent, Workload
from airflow_sc.task_runner.supervisor import TryReport

__all__ = ["event_for_report", "report_event"]

log = logging.getLogger(__name__)

_TI = TaskInstanceState


def event_for_report(
    workload: Workload, report: TryReport | None, *, exit: str, reason: str | None, at: datetime
) -> TaskEvent | None:
    """The terminal event of a try from what its child reported (pure).

    None when the child reported that the try never started (it was not QUEUED: another
    process owns it, so this executor says nothing about it).
    """
    if report is not None and report.state is None:
        return None
    if report is None or reason is not None:
        why = reason or f"the task process {exit} without reporting a result"
        if reason is not None:
            why = f"{reason} ({exit})"
        return TaskEvent(workload.ti_id, workload.key, _TI.FAILED, at, info=why)
    state = _TI(str(report.state))
    retry_allowed = report.retry_allowed
    if state is _TI.UP_FOR_RETRY:
        state, retry_allowed = _TI.FAILED, True
    return TaskEvent(
        workload.ti_id,
        workload.key,
        state,
        at,
        info=report.info,
        retry_allowed=retry_allowed,
        skip=report.skip,
    )


async def report_event(events: MemoryObjectSendStream[TaskEvent], event: TaskEvent) -> None:
    """Send `event` to the scheduler; a warning, not a failure, when it stopped listening.

    Past the shutdown deadline the scheduler no longer reads events: the row stays as it
    is until housekeeping reclaims it, and the executor's shutdown goes on.
    """
    try:
        await events.send(event)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        log.warning(
            "could not report %s of %s: the scheduler stopped listening",
            event.state.value,
            event.ti_id,
        )
