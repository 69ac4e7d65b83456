"""Wake-ups from a process without a scheduler, sent to the schedulers over NOTIFY.

A standalone `airflow-sc api-server` or `airflow-sc dag-processor` on PostgreSQL changes
what schedulers work on (a triggered run, a finished try reported through the execution
API, a new DAG version) but has no scheduler of its own to wake. `NotePublisher` collects
those wake-ups (`post` is sync, like `WakeHub`'s callers) and a component task publishes
them, coalesced, in one short transaction per burst.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from functools import partial

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Database, Transaction
from airflow_sc.scheduler.notify import Change, publish

__all__ = ["NotePublisher"]

log = logging.getLogger(__name__)


class NotePublisher:
    """Coalesces wake-ups and publishes them on the schedulers' channel."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._changes: set[Change] = set()
        self._runs: set[int] = set()
        self._pending = anyio.Event()

    def post(self, change: Change, run_pks: Collection[int] = ()) -> None:
        self._changes.add(change)
        self._runs.update(run_pks)
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
            changes, runs = self._changes, self._runs
            self._changes, self._runs = set(), set()
            try:
                await self._db.run(partial(_send, changes=changes, runs=runs))
            except Exception:  # the schedulers' sweep still finds the work
                log.warning("Could not notify the schedulers of %s", sorted(changes), exc_info=True)


async def _send(tx: Transaction, *, changes: set[Change], runs: set[int]) -> None:
    await publish(tx, changes, runs)  # too many runs to list: the receivers sweep
