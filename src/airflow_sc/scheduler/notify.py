"""Cross-process scheduler wake-ups over PostgreSQL LISTEN/NOTIFY.

Whoever changes what the scheduler works on from outside a scheduler's own stages (the
API triggering or clearing a run, an operator action, another scheduler) calls `publish`
inside its own transaction; the note goes out when that transaction commits. Every
scheduler runs `serve_notify_bridge`, which turns received notes into wake-ups of the
right stages (`StageWakeups`) and dirty dag runs. On SQLite one process owns the scheduler
and nothing is sent: in-process wake-ups (`SchedulerHandle`) do the job there.

A payload is small JSON: `{"o": origin, "c": [changes], "r": [run pks] | null}`; `r` is
null when too many runs changed to list (the receiver then sweeps all running runs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Database, Transaction
from airflow_sc.db.notify import NotesMissed, notify, open_listener
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = [
    "MAX_LISTED_RUNS",
    "SCHEDULER_CHANNEL",
    "BridgeStatistics",
    "Change",
    "Ping",
    "apply_ping",
    "decode_ping",
    "encode_ping",
    "publish",
    "scheduler_origin",
    "serve_notify_bridge",
]

log = logging.getLogger(__name__)

SCHEDULER_CHANNEL: Final = "airflow_sc_scheduler"
#: Run ids listed in one note; beyond this the note says "many" and receivers sweep.
MAX_LISTED_RUNS: Final = 500


class Change(StrEnum):
    """What changed, which decides the stages a note wakes."""

    #: A DAG was added, changed, paused or unpaused: create_runs and onwards.
    DAG_CHANGED = "dag_changed"
    #: Dag runs were created (queued): start_runs.
    RUNS_CREATED = "runs_created"
    #: Dag runs or their task instances were changed (cleared, marked): schedule_tis for
    #: those runs, start_runs for cleared runs, enqueue for freed slots.
    RUNS_CHANGED = "runs_changed"
    #: Task instances finished: schedule_tis for their runs, enqueue for the freed slots.
    TIS_FINISHED = "tis_finished"


@dataclass(frozen=True, slots=True)
class Ping:
    """One decoded note."""

    origin: str | None
    changes: frozenset[Change]
    #: Dag run primary keys; None means "too many to list: look at all of them".
    run_pks: frozenset[int] | None


def scheduler_origin(job_id: int | None) -> str:
    """The origin a scheduler's own notes carry (its bridge ignores them)."""
    return f"scheduler-{job_id}"


def encode_ping(
    changes: Iterable[Change], run_pks: Collection[int] = (), *, origin: str | None = None
) -> str:
    listed: list[int] | None = sorted(set(run_pks))
    if listed is not None and len(listed) > MAX_LISTED_RUNS:
        listed = None
    body: dict[str, Any] = {"o": origin, "c": sorted({Change(c).value for c in changes})}
    body["r"] = listed
    return json.dumps(body, separators=(",", ":"))


def decode_ping(payload: str) -> Ping | None:
    """The note in `payload`, or None when it is not one this version understands."""
    try:
        body = json.loads(payload)
        changes = frozenset(Change(c) for c in body["c"])
        origin = body.get("o")
        raw_runs = body.get("r")
        run_pks = None if raw_runs is None else frozenset(int(r) for r in raw_runs)
    except (ValueError, TypeError, KeyError, AttributeError):
        log.debug("ignoring a scheduler note that is not understood: %r", payload)
        return None
    if origin is not None and not isinstance(origin, str):
        return None
    return Ping(origin, changes, run_pks)


def apply_ping(ping: Ping, wakeups: StageWakeups) -> None:
    """Wake the stages that continue from `ping`'s changes."""
    for change in ping.changes:
        if change == Change.DAG_CHANGED:
            wakeups.create_runs.set()
            wakeups.start_runs.set()
            wakeups.schedule_tis.set()
            wakeups.enqueue.set()
        elif change == Change.RUNS_CREATED:
            wakeups.start_runs.set()
        else:
            if ping.run_pks is None:
                wakeups.schedule_tis.set()  # woken with nothing dirty: a full sweep
            elif ping.run_pks:
                wakeups.mark_dirty(set(ping.run_pks))
            wakeups.enqueue.set()
            if change == Change.RUNS_CHANGED:
                wakeups.start_runs.set()


async def publish(
    tx: Transaction,
    changes: Iterable[Change],
    run_pks: Collection[int] = (),
    *,
    origin: str | None = None,
) -> None:
    """Tell every scheduler about `changes` once `tx` commits (nothing on SQLite).

    Pass `origin` when this process already woke its own scheduler in-process (its bridge
    then skips the note); leave it None otherwise (the API, the CLI).
    """
    if tx.dialect != "postgresql":
        return
    await notify(tx, SCHEDULER_CHANNEL, encode_ping(changes, run_pks, origin=origin))


@dataclass
class BridgeStatistics:
    applied: int = 0
    ignored: int = 0
    sweeps: int = 0


async def serve_notify_bridge(
    deps: StageDeps,
    wakeups: StageWakeups,
    *,
    statistics: BridgeStatistics | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Turn notes on `SCHEDULER_CHANNEL` into wake-ups until cancelled.

    `deps` is the scheduler's `StageDeps` (its `db` and `job_id`); usable as one of
    `SchedulerDeps.extra_stages`. Ready (`task_status.started()`) once LISTEN runs, so a
    note committed after that is not missed. On SQLite it starts and returns.
    """
    db: Database = deps.db
    stats = statistics if statistics is not None else BridgeStatistics()
    own = scheduler_origin(deps.job_id)
    if db.dialect != "postgresql":
        task_status.started()
        return
    async with open_listener(db, [SCHEDULER_CHANNEL]) as listener:
        task_status.started()
        async for note in listener:
            if isinstance(note, NotesMissed):
                # Notes were lost: every stage takes a full pass.
                stats.sweeps += 1
                wakeups.wake_all()
                continue
            ping = decode_ping(note.payload)
            if ping is None or ping.origin == own:
                stats.ignored += 1
                continue
            stats.applied += 1
            apply_ping(ping, wakeups)
