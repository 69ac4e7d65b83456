"""enqueue: pools, pool_slots, parallelism, max_active_tasks, per-task caps, priorities."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_sc.db import Database
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.testing import InMemoryExecutor
from tests.scheduler.dags import (
    T0,
    FakeClock,
    all_tis,
    memory_executor,
    open_scheduler,
    set_pool,
    store_dag,
)

pytestmark = pytest.mark.anyio


def noop() -> None:
    return None


def fan(
    dag_id: str, width: int, *, task_args: dict[str, Any] | None = None, **dag_args: Any
) -> DAG:
    dag_args.setdefault("schedule", "@daily")
    dag_args.setdefault("start_date", T0 - timedelta(days=1))
    with DAG(dag_id, **dag_args) as dag:
        for i in range(width):
            PythonOperator(task_id=f"t{i}", python_callable=noop, **(task_args or {}))
    return dag


async def active(db: Database) -> list[dict[str, Any]]:
    return [ti for ti in await all_tis(db) if ti["state"] in ("queued", "running")]


async def drain_in_steps(running: Any, executor: InMemoryExecutor, total: int) -> list[int]:
    """Release held tasks one wave at a time; returns how many ran in each wave."""
    waves = []
    while len(executor.submitted) < total or executor.running:
        before = len(executor.submitted)
        waves.append(len(executor.running))
        await executor.release()

        async def moved(before: int = before) -> bool:
            return len(executor.submitted) > before or (
                len(executor.submitted) == total and not await active(running.db)
            )

        await running.wait_for(moved)
    return waves


async def test_pool_slots_bound_what_runs_at_once(db: Database, clock: FakeClock) -> None:
    await set_pool(db, "small", 3)
    await store_dag(db, fan("pooled", 7, task_args={"pool": "small"}), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(3)
        assert len(await active(db)) == 3
        waves = await drain_in_steps(running, executor, 7)
        await running.wait_run_state("pooled", "success")
    assert max(waves) == 3
    assert len(executor.submitted) == 7


async def test_pool_slots_per_task_count_against_the_pool(db: Database, clock: FakeClock) -> None:
    await set_pool(db, "wide", 4)
    dag = fan("heavy", 4, task_args={"pool": "wide", "pool_slots": 2})
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(2)
        assert len(await active(db)) == 2  # 2 x 2 slots fill the 4-slot pool
        await drain_in_steps(running, executor, 4)
        await running.wait_run_state("heavy", "success")


async def test_parallelism_caps_everything(db: Database, clock: FakeClock) -> None:
    await store_dag(db, fan("wide_a", 4), now=clock.now)
    await store_dag(db, fan("wide_b", 4), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock, parallelism=3) as running:
        await executor.wait_submitted(3)
        assert len(await active(db)) == 3
        waves = await drain_in_steps(running, executor, 8)
        await running.wait_run_state("wide_a", "success")
        await running.wait_run_state("wide_b", "success")
    assert max(waves) <= 3


async def test_max_active_tasks_per_run(db: Database, clock: FakeClock) -> None:
    await store_dag(db, fan("capped", 5, max_active_tasks=2), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(2)
        assert len(await active(db)) == 2
        waves = await drain_in_steps(running, executor, 5)
        await running.wait_run_state("capped", "success")
    assert max(waves) == 2


async def test_max_active_tis_per_dag_across_runs(db: Database, clock: FakeClock) -> None:
    dag = fan(
        "serial_task",
        1,
        task_args={"max_active_tis_per_dag": 1},
        catchup=True,
        start_date=T0 - timedelta(days=2),
    )
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        waves = await drain_in_steps(running, executor, 3)
        await running.wait_run_state("serial_task", "success", count=3)
    assert max(waves) == 1


async def test_higher_priority_goes_first_within_a_pool(db: Database, clock: FakeClock) -> None:
    await set_pool(db, "single", 1)
    with DAG("prio", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        for i, weight in enumerate([1, 5, 3, 10, 2]):
            PythonOperator(
                task_id=f"w{weight}_{i}",
                python_callable=noop,
                pool="single",
                priority_weight=weight,
            )
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        await drain_in_steps(running, executor, 5)
        await running.wait_run_state("prio", "success")
    assert [w.priority_weight for w in executor.submitted] == [10, 5, 3, 2, 1]
