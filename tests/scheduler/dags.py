"""Building and storing DAGs and reading scheduler state, for the scheduler's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import anyio
from sqlalchemy import select, update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag as dag_table
from airflow_sc.db.models import dag_run, slot_pool, task_instance, task_instance_history
from airflow_sc.db.queries import dag_files
from airflow_sc.execution.service import ExecutionService
from airflow_sc.executors.base import Executor
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.scheduler.deps import SchedulerDeps
from airflow_sc.scheduler.service import SchedulerHandle, serve_scheduler
from airflow_sc.sdk import DAG
from airflow_sc.serialization.encode import encode_dag
from airflow_sc.serialization.schedule import next_dagrun_info
from airflow_sc.serialization.spec import DagSpec
from airflow_sc.testing import InMemoryExecutor

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeClock:
    """The scheduler's clock in tests: moves only when the test says so."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


#: The change feed of each test database: one per "process", shared by the execution
#: service its in-memory executors' tries report to and the schedulers that run on it.
_FEEDS: WeakKeyDictionary[Database, ChangeFeed] = WeakKeyDictionary()


def changes_of(db: Database) -> ChangeFeed:
    """The change feed of the test process using `db`."""
    feed = _FEEDS.get(db)
    if feed is None:
        feed = _FEEDS[db] = ChangeFeed()
    return feed


def execution_service(db: Database, clock: Callable[[], datetime]) -> ExecutionService:
    """The execution service of the test process using `db`, on the scheduler's clock."""
    return ExecutionService(db, clock=clock, on_ti_finished=changes_of(db).tis_finished)


def memory_executor(
    db: Database, clock: Callable[[], datetime], name: str = "local", **options: Any
) -> InMemoryExecutor:
    """The in-memory executor double, its tries reporting to `db`'s execution service."""
    return InMemoryExecutor(name, service=execution_service(db, clock), clock=clock, **options)


async def store_dag(db: Database, dag: DAG, *, now: datetime, paused: bool = False) -> DagSpec:
    """Store `dag` as the DAG processor would (a new version, next-run columns)."""
    data = encode_dag(dag)
    spec = DagSpec.from_dict(data)
    info = next_dagrun_info(spec, last_automated=None, now=now)
    nxt = (
        dag_files.NextRun(None, None, None, None)
        if info is None
        else dag_files.NextRun(
            info.logical_date, info.data_interval.start, info.data_interval.end, info.run_after
        )
    )
    record = dag_files.DagRecord(
        dag_id=spec.dag_id,
        data=data,
        dag_hash=spec.dag_hash,
        fileloc=f"/dags/{spec.dag_id}.py",
        relative_fileloc=None,
        owners="airflow",
        description=None,
        timetable_summary=spec.timetable_summary,
        timetable_description=None,
        max_active_tasks=spec.max_active_tasks,
        max_active_runs=spec.max_active_runs,
        has_task_concurrency_limits=False,
        tags=(),
        is_paused_upon_creation=paused,
    )

    async def body(tx: Transaction) -> None:
        await dag_files.store_file(
            tx,
            # One file per DAG: storing another DAG must not make this one stale.
            fileloc=f"/dags/{spec.dag_id}.py",
            dags=[record],
            next_runs={spec.dag_id: nxt},
            errors=[],
            paused_by_default=paused,
            now=now,
        )
        await tx.execute(
            update(dag_table).where(dag_table.c.dag_id == spec.dag_id).values(is_paused=paused)
        )

    await db.run(body)
    return spec


async def set_pool(db: Database, name: str, slots: int) -> None:
    async def body(tx: Transaction) -> None:
        found = await tx.scalar(select(slot_pool.c.id).where(slot_pool.c.pool == name))
        if found is None:
            await tx.execute(slot_pool.insert().values(pool=name, slots=slots))
        else:
            await tx.execute(update(slot_pool).where(slot_pool.c.pool == name).values(slots=slots))

    await db.run(body)


async def runs(db: Database, dag_id: str) -> list[dict[str, Any]]:
    async def body(tx: Transaction) -> list[dict[str, Any]]:
        rows = await tx.execute(
            select(dag_run).where(dag_run.c.dag_id == dag_id).order_by(dag_run.c.id)
        )
        return [dict(r) for r in rows.mappings()]

    return await db.run(body, write=False)


async def tis(db: Database, dag_id: str, run_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Task instances by task id (of `run_id`, or of the DAG's only run)."""

    async def body(tx: Transaction) -> dict[str, dict[str, Any]]:
        query = select(task_instance).where(task_instance.c.dag_id == dag_id)
        if run_id is not None:
            query = query.where(task_instance.c.run_id == run_id)
        return {r["task_id"]: dict(r) for r in (await tx.execute(query)).mappings()}

    return await db.run(body, write=False)


async def all_tis(db: Database) -> list[dict[str, Any]]:
    async def body(tx: Transaction) -> list[dict[str, Any]]:
        return [dict(r) for r in (await tx.execute(select(task_instance))).mappings()]

    return await db.run(body, write=False)


async def history(db: Database, dag_id: str) -> list[dict[str, Any]]:
    async def body(tx: Transaction) -> list[dict[str, Any]]:
        query = (
            select(task_instance_history)
            .where(task_instance_history.c.dag_id == dag_id)
            .order_by(task_instance_history.c.task_id, task_instance_history.c.try_number)
        )
        return [dict(r) for r in (await tx.execute(query)).mappings()]

    return await db.run(body, write=False)


def states(found: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    return {task_id: row["state"] for task_id, row in found.items()}


@dataclass
class Running:
    handle: SchedulerHandle
    db: Database
    clock: FakeClock
    executors: Sequence[Executor] = field(default_factory=list)

    async def wait_for(self, predicate: Callable[[], Any], *, seconds: float = 10) -> None:
        """Wait (bounded) until the async `predicate()` is true, re-checking after each pass."""
        with anyio.fail_after(seconds):
            await self.handle.wait_until(predicate)

    async def settle(self) -> None:
        """Wake every stage and wait until each built-in intake stage has made a pass."""
        with anyio.fail_after(10):
            passes = self.handle.wakeups.passes.count
            self.handle.wake([])
            await self.handle.wakeups.passes.wait_beyond(passes + 3)

    async def wait_run_state(
        self, dag_id: str, state: str, *, count: int = 1, seconds: float = 10
    ) -> list[dict[str, Any]]:
        async def done() -> bool:
            return sum(r["state"] == state for r in await runs(self.db, dag_id)) >= count

        await self.wait_for(done, seconds=seconds)
        return await runs(self.db, dag_id)


@asynccontextmanager
async def open_scheduler(
    db: Database,
    executors: Sequence[Executor],
    clock: FakeClock,
    **options: Any,
) -> AsyncIterator[Running]:
    """A running scheduler on fake time; shut down (gracefully) when the block exits."""
    options.setdefault("sweep_interval", 3600.0)
    options.setdefault("heartbeat_interval", 3600.0)
    options.setdefault("shutdown_grace", 5.0)
    options.setdefault("changes", changes_of(db))
    deps = SchedulerDeps(db=db, executors=executors, clock=clock, **options)
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        handle = await tg.start(
            lambda task_status: serve_scheduler(
                deps, shutdown_trigger=stop.wait, task_status=task_status
            )
        )
        try:
            yield Running(handle, db, clock, executors)
        finally:
            stop.set()
