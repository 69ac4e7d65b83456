"""create_runs and start_runs: timetables, catchup, max_active_runs, pause, DAG versions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_sc.actions import set_dag_paused
from airflow_sc.db import Database
from airflow_sc.scheduler.changes import Change, Note, wake_stages
from airflow_sc.sdk import DAG, EmptyOperator, PythonOperator
from tests.scheduler.dags import (
    T0,
    FakeClock,
    memory_executor,
    open_scheduler,
    runs,
    states,
    store_dag,
    tis,
)

pytestmark = pytest.mark.anyio


def noop() -> None:
    return None


def daily(dag_id: str, *, days_back: int = 3, **kwargs: object) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=T0 - timedelta(days=days_back), **kwargs) as dag:  # type: ignore[arg-type]
        PythonOperator(task_id="work", python_callable=noop)
    return dag


async def test_catchup_creates_every_missed_interval(db: Database, clock: FakeClock) -> None:
    await store_dag(db, daily("caught_up", catchup=True), now=clock.now)
    async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
        found = await running.wait_run_state("caught_up", "success", count=4)
    assert [r["logical_date"] for r in found] == [T0 - timedelta(days=d) for d in (3, 2, 1, 0)]
    assert {r["run_type"] for r in found} == {"scheduled"}


async def test_without_catchup_only_the_latest_interval_runs(
    db: Database, clock: FakeClock
) -> None:
    await store_dag(db, daily("latest_only", catchup=False), now=clock.now)
    async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
        found = await running.wait_run_state("latest_only", "success")
        # Time moves on a day: the next interval is due and runs.
        clock.advance(timedelta(days=1))
        wake_stages(Note.of([Change.DAG_CHANGED]), running.handle.wakeups)
        found = await running.wait_run_state("latest_only", "success", count=2)
    assert [r["logical_date"] for r in found] == [T0, T0 + timedelta(days=1)]


async def test_max_active_runs_holds_back_run_creation(db: Database, clock: FakeClock) -> None:
    await store_dag(db, daily("limited", catchup=True, max_active_runs=2), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(2)

        async def two_runs_exist() -> bool:
            return len(await runs(db, "limited")) == 2

        await running.wait_for(two_runs_exist)
        # Like Airflow 3, no third run is even created while two are active.
        assert [r["state"] for r in await runs(db, "limited")] == ["running", "running"]
        for count in (1, 2, 3, 4):
            await executor.wait_submitted(min(count + 1, 4))
            await executor.release()
        found = await running.wait_run_state("limited", "success", count=4)
    assert len(found) == 4


async def test_paused_dag_gets_no_runs_until_unpaused(db: Database, clock: FakeClock) -> None:
    await store_dag(db, daily("paused", days_back=1), now=clock.now, paused=True)
    async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
        await running.settle()
        assert await runs(db, "paused") == []
        await set_dag_paused(db, "paused", False, wake=running.handle.wake)
        await running.wait_run_state("paused", "success")


async def test_a_run_keeps_the_dag_version_it_was_created_with(
    db: Database, clock: FakeClock
) -> None:
    await store_dag(db, daily("versioned", days_back=1), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        # A new version adds a task while the run is running.
        with DAG("versioned", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
            PythonOperator(task_id="work", python_callable=noop)
            EmptyOperator(task_id="added")
        await store_dag(db, dag, now=clock.now)
        await executor.release()
        await running.wait_run_state("versioned", "success")
    assert states(await tis(db, "versioned")) == {"work": "success"}
