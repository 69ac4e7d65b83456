"""Component jobs: beaten while they run, and stopped when another process ended them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import select, update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import job
from airflow_sc.heartbeats import JobLost, open_job

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


async def _state(db: Database, job_id: int) -> str:
    async def body(tx: Transaction) -> str:
        return str(await tx.scalar(select(job.c.state).where(job.c.id == job_id)))

    return await db.run(body)


async def test_a_job_ends_success_after_a_normal_exit(db: Database) -> None:
    async with open_job(db, "SchedulerJob", interval=0.01) as job_id:
        assert await _state(db, job_id) == "running"
    assert await _state(db, job_id) == "success"


async def test_a_job_another_process_ended_stops_its_component(db: Database) -> None:
    """A scheduler judged dead (and whose work was adopted) must not keep running it."""
    started: list[int] = []

    async def component() -> None:
        async with open_job(db, "SchedulerJob", interval=0.01) as job_id:
            started.append(job_id)

            async def adopt(tx: Transaction) -> None:
                await tx.execute(update(job).where(job.c.id == job_id).values(state="failed"))

            await db.run(adopt)  # what another scheduler's housekeeping does
            await anyio.sleep_forever()  # the component's work: cancelled by the heartbeat

    with anyio.fail_after(10), pytest.raises(ExceptionGroup) as raised:
        await component()
    assert raised.group_contains(JobLost, match="marked failed by another process")
    [job_id] = started
    assert await _state(db, job_id) == "failed"
