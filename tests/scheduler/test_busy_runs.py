"""A run another scheduler holds is skipped, not waited for, and not forgotten (PostgreSQL).

schedule_tis locks each run `FOR UPDATE SKIP LOCKED`. When the run it was woken for is
held elsewhere (another scheduler deciding it, or one that died mid-transaction), the run
stays dirty and is looked at again after `BUSY_RETRY_DELAY`, without waiting for a new
wake-up or the sweep timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import select

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag_run
from airflow_sc.db.queries import jobs
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.stages.schedule_tis import schedule_runs
from airflow_sc.sdk import DAG, PythonOperator
from tests.scheduler.dags import (
    T0,
    FakeClock,
    memory_executor,
    open_scheduler,
    runs,
    store_dag,
    tis,
)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def noop() -> None:
    return None


def chain() -> DAG:
    with DAG("held", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="a", python_callable=noop) >> PythonOperator(
            task_id="b", python_callable=noop
        )
    return dag


@asynccontextmanager
async def held_by_another_scheduler(url: str, run_pk: int) -> AsyncIterator[None]:
    """The run row locked by another connection until the block ends (then committed)."""
    async with open_database(url, pool_size=1) as other, other.transaction() as tx:
        await tx.execute(select(dag_run.c.id).where(dag_run.c.id == run_pk).with_for_update())
        yield


@pytest.fixture
async def db(postgres_database_url: str) -> AsyncIterator[Database]:
    async with open_database(postgres_database_url) as database:
        yield database


async def test_a_held_run_is_reported_busy(
    db: Database, postgres_database_url: str, clock: FakeClock
) -> None:
    await store_dag(db, chain(), now=clock.now)
    async with open_scheduler(db, [memory_executor(db, clock, hold=True)], clock) as running:
        await running.wait_run_state("held", "running")
    [run] = await runs(db, "held")
    job_id = await jobs.start_job(db, "SchedulerJob", now=clock.now)
    deps = StageDeps(
        SchedulerDeps(db=db, executors=[memory_executor(db, clock)], clock=clock), job_id
    )
    async with held_by_another_scheduler(postgres_database_url, run["id"]):
        [result] = await schedule_runs(deps, [run["id"]])
        assert result.busy
    [result] = await schedule_runs(deps, [run["id"]])
    assert not result.busy


async def test_a_run_skipped_while_held_is_decided_once_released(
    db: Database, postgres_database_url: str, clock: FakeClock
) -> None:
    await store_dag(db, chain(), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    # No sweeps during the test: only the retry of a busy run can move it on.
    async with open_scheduler(db, [executor], clock, sweep_interval=3600) as running:
        await executor.wait_submitted(1)
        [run] = await runs(db, "held")
        async with held_by_another_scheduler(postgres_database_url, run["id"]):
            await executor.release()  # a succeeds: its run is marked dirty while held

            async def a_succeeded() -> bool:
                return (await tis(db, "held"))["a"]["state"] == "success"

            await running.wait_for(a_succeeded)
            passes = running.handle.wakeups.passes.count
            with anyio.fail_after(10):
                await running.handle.wakeups.passes.wait_beyond(passes + 2)
            assert (await tis(db, "held"))["b"]["state"] is None
        with anyio.fail_after(10):
            await executor.wait_submitted(2)
        await executor.release()
        await running.wait_run_state("held", "success")
