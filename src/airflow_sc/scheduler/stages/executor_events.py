"""executor_events: what executors report about the tries they ran, in batches.

An event says a try's process ended. If the try had recorded how it ended through the
execution service, its row holds that already: nothing is written, and enqueue is woken
for the freed slot. If not (the process crashed, was killed, timed out, was stopped at
shutdown), this stage ends the try, in one transaction per batch: ``up_for_retry`` or
``failed`` by the one retry rule (`domain.retries.failed_try_state`), with one
`task_instance_history` row; a try cleared while in flight (``restarting``) is scheduled
again. The moves are decided in plain code (`decide_end`) and checked against the
transition table (actor ``executor_events``). An event for an older try (its
task_instance id is gone) or a task instance no longer in flight (marked, reclaimed) is
ignored. The runs touched are marked dirty, so schedule_tis decides their downstreams.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.db.queries.history import record_history
from airflow_sc.domain import TaskInstanceState, TIState
from airflow_sc.domain.retries import failed_try_state
from airflow_sc.domain.transitions import Actor, check_ti_transition, ti_sources
from airflow_sc.executors.base import TaskEvent
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.serialization.spec import DagSpec

__all__ = ["EventsResult", "apply_events", "decide_end", "serve_executor_events"]

log = logging.getLogger(__name__)
TI = TaskInstanceState

#: Events applied in one transaction at most (the rest go in the next one).
EVENT_BATCH_LIMIT = 1000

_EVERY_STATE: Final[tuple[TIState, ...]] = (None, *TI)
#: The in-flight states a try whose process ended without reporting is ended from.
_ENDED_FROM: Final = ti_sources(Actor.EXECUTOR_EVENTS, TI.FAILED, _EVERY_STATE) | ti_sources(
    Actor.EXECUTOR_EVENTS, None, _EVERY_STATE
)


@dataclass
class EventsResult:
    #: Dag runs whose task instances this batch ended.
    runs: set[int] = field(default_factory=set)
    #: Tries this batch ended (their processes ended without reporting).
    finished: int = 0
    #: Events whose try had recorded its own end: nothing to write.
    recorded: int = 0
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
                deps.progressed(result.runs)
            # Every event frees the slot its try held in its executor.
            wakeups.enqueue.set()
            wakeups.passes.bump()


async def _receive(events: MemoryObjectReceiveStream[TaskEvent]) -> TaskEvent | None:
    try:
        return await events.receive()
    except anyio.EndOfStream:
        return None


async def apply_events(deps: StageDeps, events: Sequence[TaskEvent]) -> EventsResult:
    """Apply one batch (idempotent: a replayed batch changes nothing).

    Only the ends nobody recorded are written, in one transaction; a batch of recorded
    ends touches no database at all.
    """
    unrecorded = [event for event in events if event.recorded is None]
    if not unrecorded:
        return EventsResult(recorded=len(events))

    async def body(tx: Transaction) -> EventsResult:
        return await _apply(tx, deps, unrecorded)

    result = await deps.db.run(body)
    result.recorded = len(events) - len(unrecorded)
    return result


def decide_end(
    event: TaskEvent, row: scheduling.EventTaskInstance, state: TIState, retries: int | None
) -> TIState | TaskEvent:
    """The state a try whose process ended without reporting moves to (pure).

    `state` is the row's state as this batch has it; the event itself when it is ignored
    (the row no longer holds that try in flight).
    """
    if row.try_number != event.key.try_number or state not in _ENDED_FROM:
        return event
    new_state: TIState
    if state is TI.RESTARTING:
        new_state = None  # cleared while in flight: whatever the try did, it runs again
    else:
        new_state = failed_try_state(row.try_number, row.max_tries, retries=retries)
    check_ti_transition(state, new_state, actor=Actor.EXECUTOR_EVENTS)
    return new_state


async def _apply(tx: Transaction, deps: StageDeps, events: Sequence[TaskEvent]) -> EventsResult:
    result = EventsResult()
    rows = {r.id: r for r in await scheduling.event_task_instances(tx, [e.ti_id for e in events])}
    specs = await deps.versions.get(tx, {r.version_id for r in rows.values()})
    # The state each instance has as this batch is applied: a duplicate is ignored.
    current: dict[str, TIState] = {
        ti_id: None if row.state is None else TI(row.state) for ti_id, row in rows.items()
    }
    updates: list[dict[str, Any]] = []
    history: list[str] = []
    for event in events:
        row = rows.get(event.ti_id)
        if row is None:
            result.ignored += 1
            continue
        decided = decide_end(event, row, current[row.id], _retries(specs, row))
        if isinstance(decided, TaskEvent):
            result.ignored += 1
            continue
        current[row.id] = decided
        updates.append(_ended(row, decided, event.at, deps.now()))
        if decided is not None:
            history.append(row.id)
        if event.info:
            log.warning("%s.%s try %d: %s", row.dag_id, row.task_id, row.try_number, event.info)
        result.runs.add(row.run_pk)
        result.finished += 1
    await scheduling.apply_task_updates(tx, updates)
    # After the update: the history row holds how the try ended.
    await record_history(tx, history)
    return result


def _retries(specs: Mapping[str, DagSpec], row: scheduling.EventTaskInstance) -> int | None:
    spec = specs.get(row.version_id or "")
    task = None if spec is None else spec.tasks.get(row.task_id)
    return None if task is None else task.retries


def _ended(
    row: scheduling.EventTaskInstance, state: TIState, at: datetime, now: datetime
) -> dict[str, Any]:
    started = row.start_date or at
    return {
        "id": row.id,
        "state": None if state is None else state.value,
        "start_date": started,
        "end_date": at,
        "duration": max(0.0, (at - started).total_seconds()),
        "updated_at": now,
    }
