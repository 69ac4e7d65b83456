"""executor_events: apply what executors report, in batches, idempotently.

Every event pending on the stream is applied in one transaction. RUNNING records the start;
a terminal state ends the try (a FAILED try becomes UP_FOR_RETRY or FAILED by
`policy.retries`), records one `task_instance_history` row, and applies a branch's skips.
An event for an older try (its task_instance id is gone) or for a task instance that is
no longer queued/running (cleared, marked, timed out) is ignored. The runs touched are
marked dirty, so schedule_tis decides their downstreams, and enqueue is woken for the
slots that were freed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.domain import TaskInstanceState
from airflow_sc.domain.retries import should_retry
from airflow_sc.executors.base import TaskEvent
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = ["EventsResult", "apply_events", "serve_executor_events"]

log = logging.getLogger(__name__)
TI = TaskInstanceState

#: Events applied in one transaction at most (the rest go in the next one).
EVENT_BATCH_LIMIT = 1000

_TERMINAL = frozenset({TI.SUCCESS, TI.FAILED, TI.SKIPPED})
_RUNNABLE_FROM = frozenset({TI.QUEUED.value, TI.RUNNING.value, TI.RESTARTING.value})


@dataclass
class EventsResult:
    runs: set[int] = field(default_factory=set)
    finished: int = 0
    ignored: int = 0


async def serve_executor_events(
    deps: StageDeps,
    wakeups: StageWakeups,
    events: MemoryObjectReceiveStream[TaskEvent],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Apply events until every executor has closed its side of the stream."""
    async with events:
        task_status.started()
        while True:
            first = None
            if deps.finished.is_set():
                return
            with anyio.CancelScope() as deps.events_wait:
                first = await _receive(events)
            deps.events_wait = None
            if first is None:
                return
            batch = [first]
            while len(batch) < EVENT_BATCH_LIMIT:
                try:
                    batch.append(events.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            result = await apply_events(deps, batch)
            if result.runs:
                wakeups.mark_dirty(result.runs)
            if result.finished:
                wakeups.enqueue.set()
            wakeups.passes.bump()


async def _receive(events: MemoryObjectReceiveStream[TaskEvent]) -> TaskEvent | None:
    try:
        return await events.receive()
    except anyio.EndOfStream:
        return None


async def apply_events(deps: StageDeps, events: Sequence[TaskEvent]) -> EventsResult:
    """Apply one batch in one transaction (idempotent: a replayed batch changes nothing)."""

    async def body(tx: Transaction) -> EventsResult:
        return await _apply(tx, deps, events)

    return await deps.db.run(body)


async def _apply(tx: Transaction, deps: StageDeps, events: Sequence[TaskEvent]) -> EventsResult:
    result = EventsResult()
    # A branch's skips are locked up front, with the rest, in the one lock order.
    branches = [(e.key.dag_id, e.key.run_id, e.skip) for e in events if e.skip]
    rows = {
        r.id: r
        for r in await scheduling.event_task_instances(
            tx, [e.ti_id for e in events], also_lock=branches
        )
    }
    specs = await deps.versions.get(tx, {r.version_id for r in rows.values()})
    # The state each instance has as this batch is applied, so two events of one try in
    # the same batch (RUNNING then SUCCESS) apply in order and a duplicate is ignored.
    current = {ti_id: row.state for ti_id, row in rows.items()}
    start = {ti_id: row.start_date for ti_id, row in rows.items()}
    updates: list[dict[str, Any]] = []
    history: list[str] = []
    skips: list[tuple[str, str, tuple[str, ...]]] = []
    for event in events:
        row = rows.get(event.ti_id)
        if row is None or row.try_number != event.key.try_number:
            result.ignored += 1
            continue
        state = current[row.id]
        if state not in _RUNNABLE_FROM:
            result.ignored += 1
            continue
        if event.state is TI.RUNNING:
            if state == TI.QUEUED.value:  # a restarting instance stays restarting
                current[row.id] = TI.RUNNING.value
                start[row.id] = event.at
                updates.append(_running(row.id, event.at, deps.now()))
            continue
        spec = specs.get(row.version_id or "")
        task = None if spec is None else spec.tasks.get(row.task_id)
        new_state: TaskInstanceState | None = _final_state(
            event, row, None if task is None else task.retries
        )
        if state == TI.RESTARTING.value:
            # Cleared while it ran: whatever the try reports, it is scheduled again.
            new_state = None
        current[row.id] = None if new_state is None else new_state.value
        started = start[row.id] or event.at
        updates.append(_ended(row.id, new_state, started, event.at, deps.now()))
        if new_state is not None:
            history.append(row.id)
        if event.skip:
            skips.append((row.dag_id, row.run_id, event.skip))
        result.runs.add(row.run_pk)
        result.finished += 1
    await scheduling.apply_task_updates(tx, _last_per_id(updates))
    await scheduling.record_history(tx, history)
    for dag_id, run_id, task_ids in skips:
        await scheduling.skip_task_instances(tx, dag_id, run_id, task_ids, now=deps.now())
    return result


def _final_state(
    event: TaskEvent, row: scheduling.EventTaskInstance, retries: int | None
) -> TaskInstanceState:
    if event.state is TI.FAILED:
        if event.retry_allowed and should_retry(row.try_number, row.max_tries, retries=retries):
            return TI.UP_FOR_RETRY
        return TI.FAILED
    if event.state in _TERMINAL or event.state in (TI.UP_FOR_RESCHEDULE, TI.DEFERRED):
        return event.state
    raise ValueError(f"executor reported an unexpected state {event.state!r}")


def _running(ti_id: str, at: datetime, now: datetime) -> dict[str, Any]:
    return {"id": ti_id, "state": TI.RUNNING.value, "start_date": at, "updated_at": now}


def _ended(
    ti_id: str, state: TaskInstanceState | None, started: datetime, at: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "id": ti_id,
        "state": None if state is None else state.value,
        "start_date": started,
        "end_date": at,
        "duration": max(0.0, (at - started).total_seconds()),
        "updated_at": now,
    }


def _last_per_id(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge several changes to one row into one (later values win)."""
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        merged.setdefault(update["id"], {}).update(update)
    # Rows merged from RUNNING + end carry the same columns as an end alone.
    return list(merged.values())
