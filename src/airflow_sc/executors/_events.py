"""How a try's end becomes a `TaskEvent`, and how it is reported (shared by the local and
in-process executors)."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.executors.base import TaskEvent, Workload
from airflow_sc.task_runner.supervisor import TryReport

__all__ = ["event_for_end", "report_event"]

log = logging.getLogger(__name__)


def event_for_end(
    workload: Workload,
    report: TryReport | None,
    *,
    recorded: TaskInstanceState | None,
    exit: str,
    reason: str | None,
    at: datetime,
) -> TaskEvent | None:
    """The event of a try whose process ended (pure).

    `recorded` is the state the execution service accepted from the try (None: nothing
    was recorded). None when the child reported that the try never started (it was not
    queued: another process owns it, so this executor says nothing about it).
    """
    if report is not None and report.state is None:
        return None
    if reason is not None:  # the executor stopped it (timeout, terminate): say why
        why: str | None = f"{reason} ({exit})" if exit else reason
    elif recorded is not None:
        why = None if report is None else report.info
    elif report is None:
        why = f"the task process {exit} without reporting a result"
    else:
        why = f"the try ended {report.state} but its state could not be recorded" + (
            f": {report.info}" if report.info else ""
        )
    return TaskEvent(workload.ti_id, workload.key, at, recorded=recorded, info=why)


async def report_event(events: MemoryObjectSendStream[TaskEvent], event: TaskEvent) -> None:
    """Send `event` to the scheduler; a warning, not a failure, when it stopped listening.

    Past the shutdown deadline the scheduler no longer reads events: the row stays as it
    is until housekeeping reclaims it, and the executor's shutdown goes on.
    """
    try:
        await events.send(event)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        log.warning(
            "could not report the end of %s (%s): the scheduler stopped listening",
            event.ti_id,
            "not recorded" if event.recorded is None else event.recorded.value,
        )
