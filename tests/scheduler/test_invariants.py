"""Random DAGs and executor outcomes (seeded, SQLite) against the scheduler's invariants,
and cancellation of the whole pipeline at each of its transactions followed by a restart."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
import pytest

from airflow_sc.db import Database, DatabaseStatistics, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.scheduler.housekeeping_rules import HousekeepingLimits
from airflow_sc.scheduler.stages.housekeeping import serve_housekeeping
from airflow_sc.sdk import DAG, PythonOperator, TriggerRule
from airflow_sc.testing import InMemoryExecutor
from tests.scheduler.dags import T0, FakeClock, all_tis, open_scheduler, runs, set_pool, store_dag

pytestmark = pytest.mark.anyio
TI = TaskInstanceState
POOLS = {"default_pool": 128, "narrow": 2, "single": 1}
PARALLELISM = 4


def noop() -> None:
    return None


def random_dag(rng: random.Random, dag_id: str) -> DAG:
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=T0 - timedelta(days=rng.randint(1, 2)),
        catchup=True,
        max_active_tasks=rng.randint(1, 4),
    ) as dag:
        previous: list[PythonOperator] = []
        for layer in range(rng.randint(1, 3)):
            current = [
                PythonOperator(
                    task_id=f"l{layer}_{i}",
                    python_callable=noop,
                    pool=rng.choice(list(POOLS)),
                    priority_weight=rng.randint(1, 5),
                    retries=rng.randint(0, 1),
                    retry_delay=timedelta(seconds=1),
                    trigger_rule=rng.choice([TriggerRule.ALL_SUCCESS, TriggerRule.ALL_DONE]),
                )
                for i in range(rng.randint(1, 3))
            ]
            for up in previous:
                for down in current:
                    if rng.random() < 0.7:
                        up >> down
            previous = current
    return dag


def check_invariants(found: list[dict[str, Any]], executor: InMemoryExecutor) -> None:
    active = [ti for ti in found if ti["state"] in ("queued", "running")]
    assert len(active) <= PARALLELISM, "parallelism exceeded"
    used = Counter[str]()
    for ti in active:
        used[ti["pool"]] += ti["pool_slots"]
    for pool, slots in used.items():
        assert slots <= POOLS[pool], f"pool {pool} over-committed: {slots}"
    tries = Counter(w.key for w in executor.submitted)
    assert max(tries.values(), default=1) == 1, "a try was submitted twice"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_random_dags_keep_the_invariants(db: Database, clock: FakeClock, seed: int) -> None:
    rng = random.Random(seed)
    for pool, slots in POOLS.items():
        await set_pool(db, pool, slots)
    dag_ids = [f"random_{seed}_{i}" for i in range(3)]
    for dag_id in dag_ids:
        await store_dag(db, random_dag(rng, dag_id), now=clock.now)

    def outcome(workload: Workload) -> TI:
        return TI.FAILED if rng.random() < 0.3 else TI.SUCCESS

    executor = InMemoryExecutor(hold=True, outcome=outcome, clock=clock)
    async with open_scheduler(db, [executor], clock, parallelism=PARALLELISM) as running:
        for _ in range(200):
            await running.settle()
            check_invariants(await all_tis(db), executor)
            states = [r["state"] for d in dag_ids for r in await runs(db, d)]
            if states and all(s in ("success", "failed") for s in states):
                break
            held = list(executor.running)
            executor.release(rng.sample(held, k=rng.randint(1, len(held))) if held else [])
            clock.advance(timedelta(seconds=2))
        else:
            pytest.fail("runs did not finish")
    for dag_id in dag_ids:
        assert {r["state"] for r in await runs(db, dag_id)} <= {"success", "failed"}


class CancellingDatabase(Database):
    """The real database, but the N-th transaction cancels `scope` before it begins."""

    def __init__(self, inner: Database, cancel_at: int, scope: anyio.CancelScope) -> None:
        self.inner = inner
        self.url = inner.url
        self.adapter = inner.adapter
        self.cancel_at = cancel_at
        self.scope = scope
        self.count = 0

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        return self._transaction(write)

    @asynccontextmanager
    async def _transaction(self, write: bool) -> AsyncIterator[Transaction]:
        self.count += 1
        if self.count == self.cancel_at:
            self.scope.cancel()
            await anyio.lowlevel.checkpoint()
        async with self.inner.transaction(write=write) as tx:
            yield tx

    def statistics(self) -> DatabaseStatistics:
        return self.inner.statistics()

    async def aclose(self) -> None:
        return None


def small_dag() -> DAG:
    with DAG(
        "restartable", schedule="@daily", start_date=T0 - timedelta(days=2), catchup=True
    ) as dag:
        a = PythonOperator(task_id="a", python_callable=noop)
        b = PythonOperator(task_id="b", python_callable=noop)
        c = PythonOperator(task_id="c", python_callable=noop)
        a >> [b, c]
    return dag


@pytest.mark.parametrize("cancel_at", [2, 3, 5, 8, 13, 21])
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_cancelled_at_any_transaction_a_restart_finishes_the_work(
    database_url: str, clock: FakeClock, cancel_at: int
) -> None:
    # A short busy timeout: a leaked write lock would fail the restart instead of stalling.
    async with open_database(database_url, statement_timeout=2) as db:
        await _cancel_then_restart(db, clock, cancel_at)


async def _cancel_then_restart(db: Database, clock: FakeClock, cancel_at: int) -> None:
    await store_dag(db, small_dag(), now=clock.now)
    executor = InMemoryExecutor()
    with anyio.CancelScope() as scope:
        cancelling = CancellingDatabase(db, cancel_at, scope)
        async with open_scheduler(cancelling, [executor], clock) as running:
            await running.wait_run_state("restartable", "success", count=3)
    # Whatever was committed is consistent: every queued try names the scheduler that
    # queued it, so housekeeping can find it if its events were lost with the scheduler.
    for ti in await all_tis(db):
        assert ti["state"] != "queued" or ti["queued_by_job_id"] is not None
    limits = HousekeepingLimits(heartbeat_timeout=30, task_queued_timeout=60, interval=3600)
    housekeeping = partial(serve_housekeeping, limits=limits)
    async with open_scheduler(db, [executor], clock, extra_stages=[housekeeping]) as running:
        # Tries whose events died with the first scheduler are noticed once they time out.
        clock.advance(timedelta(minutes=5))
        running.handle.wake([])

        async def all_finished() -> bool:
            found = await runs(db, "restartable")
            return len(found) == 3 and all(r["state"] in ("success", "failed") for r in found)

        await running.wait_for(all_finished)
    assert {ti["state"] for ti in await all_tis(db)} <= {"success", "failed", "upstream_failed"}
