"""Component liveness: a job row per component, beaten while it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio

from airflow_sc.db import Database
from airflow_sc.db.queries import jobs

__all__ = ["JobLost", "open_job", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def open_job(
    db: Database,
    job_type: str,
    *,
    interval: float,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[int]:
    """Register a job row, beat it every `interval` seconds, and close it on exit.

    The row ends `success` after a normal exit and `failed` after an error; a process that
    dies without closing it is recognised by its stale heartbeat. If another process ends
    the job while it runs (it judged the heartbeat stale and adopted its work), the body is
    cancelled and `JobLost` raised.
    """
    job_id = await jobs.start_job(db, job_type, now=clock())
    state = "failed"
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_beat, db, job_id, interval, clock)
            try:
                yield job_id
            finally:
                tg.cancel_scope.cancel()
        state = "success"
    finally:
        with anyio.move_on_after(5, shield=True):
            await jobs.finish_job(db, job_id, state=state, now=clock())


class JobLost(Exception):
    """Another process ended this component's job: its heartbeat was judged stale."""


async def _beat(db: Database, job_id: int, interval: float, clock: Callable[[], datetime]) -> None:
    while True:
        await anyio.sleep(interval)
        if not await jobs.heartbeat(db, job_id, now=clock()):
            # Another scheduler has already adopted (reset) this job's task instances: going
            # on would run that work a second time. Stop; a restart registers a new job.
            raise JobLost(
                f"job {job_id} was marked failed by another process after its heartbeat "
                "went stale (longer than scheduler.heartbeat_timeout); stopping so that its "
                "work is not run twice"
            )
