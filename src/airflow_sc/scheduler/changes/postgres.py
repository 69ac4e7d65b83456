"""Notes between processes over PostgreSQL LISTEN/NOTIFY.

Outbound: `NotifyPublisher` is a `ChangeFeed` sender for a process that runs no scheduler
(a standalone API server or DAG processor): it collects the notes its feed announces and
publishes them, coalesced, in one short transaction per burst. `publish(tx, ...)` sends a
note inside a writer's own transaction instead (it goes out when that commits).

Inbound: `serve_notify_bridge` listens on `CHANNEL` and delivers what it hears to a feed
(skipping the notes its own process sent); a lost listening connection delivers
`Change.ANY`, so subscribers sweep. On SQLite both sides do nothing: one process owns the
scheduler there (`changes.local_socket` carries notes to it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Final

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Database, Transaction
from airflow_sc.db.notify import NotesMissed, notify, open_listener
from airflow_sc.scheduler.changes.feed import ChangeFeed
from airflow_sc.scheduler.changes.notes import Change, Note, decode_note, encode_note

__all__ = [
    "CHANNEL",
    "BridgeStatistics",
    "NotifyPublisher",
    "publish",
    "serve_notify_bridge",
]

log = logging.getLogger(__name__)

CHANNEL: Final = "airflow_sc_scheduler"


async def publish(
    tx: Transaction,
    changes: Iterable[Change],
    run_pks: Collection[int] | None = (),
    *,
    origin: str | None = None,
) -> None:
    """Tell every other process about `changes` once `tx` commits (nothing on SQLite).

    `run_pks` None: too many runs to list (the receivers look at all of them).
    """
    if tx.dialect != "postgresql":
        return
    await notify(tx, CHANNEL, encode_note(Note.of(changes, run_pks, origin=origin)))


class NotifyPublisher:
    """Coalesces a feed's notes and publishes them on `CHANNEL` (a feed's sender)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._changes: set[Change] = set()
        self._runs: set[int] | None = set()
        self._origin: str | None = None
        self._pending = anyio.Event()

    def send(self, note: Note) -> None:
        """Queue `note` (sync, never blocks: `ChangeFeed.add_outbound`)."""
        self._changes.update(note.changes)
        self._origin = note.origin
        if self._runs is not None:
            self._runs = None if note.run_pks is None else self._runs | note.run_pks
        self._pending.set()

    async def serve(
        self,
        *,
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Publish until `shutdown_trigger()` returns (a component's serve function)."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._publish_forever)
            task_status.started()
            await shutdown_trigger()
            tg.cancel_scope.cancel()

    async def _publish_forever(self) -> None:
        while True:
            await self._pending.wait()
            self._pending = anyio.Event()
            note = Note.of(self._changes, self._runs, origin=self._origin)
            self._changes, self._runs = set(), set()
            try:
                await self._db.run(partial(_send, note=note))
            except Exception:  # the schedulers' sweep still finds the work
                log.warning("Could not notify the schedulers of %s", note, exc_info=True)


async def _send(tx: Transaction, *, note: Note) -> None:
    await publish(tx, note.changes, note.run_pks, origin=note.origin)


@dataclass
class BridgeStatistics:
    applied: int = 0
    ignored: int = 0
    sweeps: int = 0


async def serve_notify_bridge(
    db: Database,
    feed: ChangeFeed,
    *,
    statistics: BridgeStatistics | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver the notes on `CHANNEL` to `feed` until cancelled.

    Ready (`task_status.started()`) once LISTEN runs, so a note committed after that is not
    missed. Notes `feed`'s own process sent are skipped. On SQLite it starts and returns.
    """
    stats = statistics if statistics is not None else BridgeStatistics()
    if db.dialect != "postgresql":
        task_status.started()
        return
    async with open_listener(db, [CHANNEL]) as listener:
        task_status.started()
        async for heard in listener:
            if isinstance(heard, NotesMissed):
                stats.sweeps += 1
                feed.deliver(Note(frozenset({Change.ANY}), None))
                continue
            note = decode_note(heard.payload)
            if note is None or note.origin == feed.origin:
                stats.ignored += 1
                continue
            stats.applied += 1
            feed.deliver(note)
