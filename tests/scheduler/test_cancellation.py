"""Cancelling a scheduler stage at each of its await points, then restarting the scheduler.

`CancellingDatabase` is the real database with a hook at every await point a stage's batch
passes through: opening a transaction, before each statement, before the commit and right
after it. The N-th point cancels the scope the batch runs in. For each stage, N goes
1, 2, 3, ... (each time on a fresh copy of the same starting state) until the batch
completes without reaching it. After every cancellation:

- the database is consistent: every queued or running task instance names the scheduler
  that queued it and has a try number, every running run has its task instances, every
  finished try has exactly one history row, and every run the timetable says was created
  exists;
- what was committed as QUEUED was handed to the executor, unless the cancellation came
  after the commit itself (then the try is an orphan of the dead scheduler);
- a restarted scheduler (a new job; the old one's heartbeat goes stale, housekeeping
  adopts its orphans) finishes every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from sqlalchemy import select
from sqlalchemy.sql import Executable

from airflow_sc.db import Database, DatabaseStatistics, Transaction
from airflow_sc.db.database import Parameters, Rows
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag as dag_table
from airflow_sc.db.models import dag_run, task_instance, task_instance_history
from airflow_sc.db.queries import jobs, scheduling
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import TaskEvent, Workload
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.housekeeping_rules import HousekeepingLimits
from airflow_sc.scheduler.stages.create_runs import create_due_runs
from airflow_sc.scheduler.stages.enqueue import enqueue_scheduled
from airflow_sc.scheduler.stages.executor_events import apply_events
from airflow_sc.scheduler.stages.housekeeping import serve_housekeeping
from airflow_sc.scheduler.stages.schedule_tis import schedule_runs
from airflow_sc.scheduler.stages.start_runs import start_queued_runs
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.testing import Outcome
from airflow_sc.testing.databases import copy_sqlite_template
from tests.scheduler.dags import (
    T0,
    FakeClock,
    changes_of,
    memory_executor,
    open_scheduler,
    runs,
    store_dag,
)

pytestmark = pytest.mark.anyio
TI = TaskInstanceState
DAG_ID = "restartable"
RUNS = 2
#: Await points no batch here comes near: the loop below must end well before.
MAX_POINTS = 200


class CancellationHook:
    """Counts await points; cancels `scope` at point number `cancel_at`."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.cancel_at = cancel_at
        self.scope: anyio.CancelScope | None = None
        self.points = 0
        self.where: str | None = None

    async def point(self, where: str) -> None:
        self.points += 1
        if self.points == self.cancel_at and self.scope is not None:
            self.where = where
            self.scope.cancel()
        await anyio.lowlevel.checkpoint()


class CancellingTransaction(Transaction):
    def __init__(self, inner: Transaction, hook: CancellationHook) -> None:
        self.inner = inner
        self.hook = hook
        self.dialect = inner.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        await self.hook.point(f"before {str(statement).split()[0]}")
        return await self.inner.execute(statement, parameters)


class CancellingDatabase(Database):
    """The real database, with `hook.point()` at every await point of a transaction."""

    def __init__(self, inner: Database, hook: CancellationHook) -> None:
        self.inner = inner
        self.url = inner.url
        self.adapter = inner.adapter
        self.reachability = inner.reachability
        self.retry_policy = inner.retry_policy
        self.hook = hook

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        return self._transaction(write)

    @asynccontextmanager
    async def _transaction(self, write: bool) -> AsyncIterator[Transaction]:
        await self.hook.point("begin")
        async with self.inner.transaction(write=write) as tx:
            yield CancellingTransaction(tx, self.hook)
            await self.hook.point("before commit")
        await self.hook.point("after commit")

    def statistics(self) -> DatabaseStatistics:
        return self.inner.statistics()

    async def aclose(self) -> None:
        return None


def noop() -> None:
    return None


def _run_of(workload: Workload, days_before_t0: int) -> bool:
    day = (T0 - timedelta(days=days_before_t0)).date()
    return workload.key.run_id.endswith(f"{day}T00:00:00+00:00")


def outcome(workload: Workload) -> Outcome:
    # Two runs fail: in one a root task's process dies without reporting (executor_events
    # ends it: its downstreams are upstream_failed), in the other a task reports failure.
    if _run_of(workload, 1) and workload.key.task_id == "a":
        return Outcome(state=None)
    if _run_of(workload, 2) and workload.key.task_id == "b":
        return Outcome(TI.FAILED)
    return Outcome()


def small_dag() -> DAG:
    with DAG(
        DAG_ID,
        schedule="@daily",
        start_date=T0 - timedelta(days=RUNS),
        catchup=True,
        fileloc=f"/dags/{DAG_ID}.py",
    ) as dag:
        a = PythonOperator(task_id="a", python_callable=noop)
        b = PythonOperator(task_id="b", python_callable=noop)
        c = PythonOperator(task_id="c", python_callable=noop)
        a >> [b, c]
    return dag


# -- the stages, and the state each one starts from ------------------------------------

#: One stage's batch: its deps, and the executor events waiting for executor_events.
Step = Callable[[StageDeps, list[TaskEvent]], Awaitable[Any]]


async def _create(deps: StageDeps, events: list[TaskEvent]) -> None:
    await create_due_runs(deps)


async def _start(deps: StageDeps, events: list[TaskEvent]) -> None:
    await start_queued_runs(deps)


async def _schedule(deps: StageDeps, events: list[TaskEvent]) -> None:
    running = await deps.db.run(scheduling.running_run_ids, write=False)
    await schedule_runs(deps, running)


async def _enqueue(deps: StageDeps, events: list[TaskEvent]) -> None:
    await enqueue_scheduled(deps)


async def _events(deps: StageDeps, events: list[TaskEvent]) -> None:
    # Events of a cancelled batch are gone with the scheduler, as in a crash.
    await apply_events(deps, events)


PIPELINE: list[tuple[str, Step]] = [
    ("create_runs", _create),
    ("start_runs", _start),
    ("schedule_tis", _schedule),
    ("enqueue", _enqueue),
    ("executor_events", _events),
]
STEPS = dict(PIPELINE)


@dataclass(frozen=True)
class Prepared:
    """The state a stage starts from, besides the database file."""

    job_id: int
    #: Tries handed to the executor before the stage ran.
    submitted: frozenset[str]
    #: Executor events not applied yet.
    events: list[TaskEvent]


async def prepare(url: str, stage: str) -> Prepared:
    """Store the DAG and run the stages before `stage` (uncancelled) once."""
    clock = FakeClock()
    async with open_database(url) as db:
        executor = memory_executor(db, clock, outcome=outcome)
        job_id = await jobs.start_job(db, "SchedulerJob", now=T0)
        deps = StageDeps(SchedulerDeps(db=db, executors=[executor], clock=clock), job_id)
        await store_dag(db, small_dag(), now=T0)
        for name, step in PIPELINE:
            if name == stage:
                break
            await step(deps, executor.drain_events())
    submitted = frozenset(w.ti_id for w in executor.submitted)
    return Prepared(job_id, submitted, executor.drain_events())


# -- checks ------------------------------------------------------------------------------


async def check_consistent(db: Database, submitted: set[str], job_id: int) -> None:
    async def read(tx: Transaction) -> tuple[list[Any], list[Any], list[Any], Any]:
        tis = (await tx.execute(select(task_instance))).mappings()
        found_runs = (await tx.execute(select(dag_run))).mappings()
        tries = (
            await tx.execute(
                select(task_instance_history.c.task_instance_id, task_instance_history.c.try_number)
            )
        ).all()
        next_dagrun = await tx.scalar(
            select(dag_table.c.next_dagrun).where(dag_table.c.dag_id == DAG_ID)
        )
        return tis, found_runs, tries, next_dagrun

    tis, found_runs, tries, next_dagrun = await db.run(read, write=False)
    for ti in tis:
        if ti["state"] in ("queued", "running"):
            assert ti["queued_by_job_id"] == job_id, ti
            assert ti["try_number"] >= 1, ti
    with_tis = {(ti["dag_id"], ti["run_id"]) for ti in tis}
    for run in found_runs:
        if run["state"] == "running":
            assert (run["dag_id"], run["run_id"]) in with_tis, f"running run without tasks: {run}"
    history = Counter((str(ti_id), try_number) for ti_id, try_number in tries)
    assert max(history.values(), default=1) == 1, "a try was recorded twice"
    for ti in tis:
        if ti["state"] in ("success", "failed") and str(ti["id"]) in submitted:
            assert history[(str(ti["id"]), ti["try_number"])] == 1, f"try not recorded: {ti}"
    # A created run moved the DAG's next run past it, in the same transaction.
    for run in found_runs:
        assert next_dagrun is None or run["logical_date"] < next_dagrun, (run, next_dagrun)
    expected = RUNS + 1 if next_dagrun is None else (next_dagrun - (T0 - timedelta(days=RUNS))).days
    assert len(found_runs) == expected, (found_runs, next_dagrun)


async def queued_but_not_submitted(db: Database, submitted: set[str]) -> set[str]:
    async def read(tx: Transaction) -> set[str]:
        ids = await tx.scalars(select(task_instance.c.id).where(task_instance.c.state == "queued"))
        return {str(i) for i in ids}

    return await db.run(read, write=False) - submitted


async def digest(db: Database) -> str:
    """What a restart depends on (ids left out: each copy mints its own)."""

    async def read(tx: Transaction) -> str:
        tis = await tx.execute(
            select(
                task_instance.c.run_id,
                task_instance.c.task_id,
                task_instance.c.state,
                task_instance.c.try_number,
                task_instance.c.queued_by_job_id,
            ).order_by(task_instance.c.run_id, task_instance.c.task_id)
        )
        found = await tx.execute(select(dag_run.c.run_id, dag_run.c.state).order_by(dag_run.c.id))
        nxt = await tx.scalar(select(dag_table.c.next_dagrun))
        return repr((tis.all(), found.all(), nxt))

    return await db.run(read, write=False)


async def all_finished(db: Database) -> bool:
    found = await runs(db, DAG_ID)
    return len(found) == RUNS + 1 and all(r["state"] in ("success", "failed") for r in found)


async def restart_finishes_the_work(db: Database, clock: FakeClock) -> None:
    """A new scheduler (with housekeeping) ends every run; the old one is presumed dead."""
    clock.advance(timedelta(minutes=5))  # the old job's heartbeat is now stale
    limits = HousekeepingLimits(heartbeat_timeout=30, task_queued_timeout=600, interval=3600)
    executor = memory_executor(db, clock, outcome=outcome)
    housekeeping = partial(serve_housekeeping, limits=limits)
    async with open_scheduler(db, [executor], clock, extra_stages=[housekeeping]) as running:
        await running.wait_for(partial(all_finished, db))
    assert {r["state"] for r in await runs(db, DAG_ID)} == {"success", "failed"}


# -- the tests ---------------------------------------------------------------------------


async def cancel_once(
    url: str, stage: str, cancel_at: int, prepared: Prepared, restarted: set[tuple[str, bool]]
) -> CancellationHook:
    """Run `stage` cancelled at point `cancel_at`, check, restart (unless seen already)."""
    clock = FakeClock()
    async with open_database(url, statement_timeout=2) as real:
        hook = CancellationHook()
        db = CancellingDatabase(real, hook)
        executor = memory_executor(db, clock, outcome=outcome)
        deps = StageDeps(SchedulerDeps(db=db, executors=[executor], clock=clock), prepared.job_id)
        hook.cancel_at = cancel_at
        with anyio.CancelScope() as hook.scope:
            await STEPS[stage](deps, list(prepared.events))
        hook.scope = None
        submitted = set(prepared.submitted) | {w.ti_id for w in executor.submitted}
        await check_consistent(real, submitted, prepared.job_id)
        lost = await queued_but_not_submitted(real, submitted)
        assert not lost or hook.where == "after commit", (hook.where, lost)
        # A restart depends only on what the database holds (and whether tries were lost):
        # one from each distinct state is enough.
        state = (await digest(real), bool(lost))
        if state not in restarted:
            restarted.add(state)
            await restart_finishes_the_work(real, clock)
    return hook


@pytest.mark.parametrize("stage", [name for name, _ in PIPELINE])
async def test_a_stage_cancelled_at_any_await_point_leaves_work_a_restart_finishes(
    sqlite_database_template: Path, tmp_path: Path, stage: str
) -> None:
    start = tmp_path / "start"
    start.mkdir()
    prepared = await prepare(copy_sqlite_template(sqlite_database_template, start), stage)
    restarted: set[tuple[str, bool]] = set()
    for cancel_at in count(1):
        assert cancel_at < MAX_POINTS
        directory = tmp_path / str(cancel_at)
        directory.mkdir()
        url = copy_sqlite_template(start / "metadata.db", directory)
        hook = await cancel_once(url, stage, cancel_at, prepared, restarted)
        if hook.points < cancel_at:
            break  # the batch completed before reaching this point: every point was tried
    assert cancel_at > 3, "the stage's batch should pass several await points"
    assert len(restarted) >= 2, "cancelled before and after a commit"


@pytest.mark.parametrize("cancel_at", [3, 7, 12, 20, 30, 45])
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_the_whole_scheduler_cancelled_mid_batch_is_finished_by_a_restart(
    database_url: str, cancel_at: int
) -> None:
    clock = FakeClock()
    async with open_database(database_url, statement_timeout=2) as real:
        await store_dag(real, small_dag(), now=clock.now)
        hook = CancellationHook(cancel_at)
        executor = memory_executor(real, clock, outcome=outcome)
        cancelling = CancellingDatabase(real, hook)
        with anyio.CancelScope() as hook.scope:
            async with open_scheduler(
                cancelling, [executor], clock, changes=changes_of(real)
            ) as running:
                await running.wait_for(partial(all_finished, real))
        for ti in await _all(real):
            assert ti["state"] not in ("queued", "running") or ti["queued_by_job_id"] is not None
        await restart_finishes_the_work(real, clock)


async def _all(db: Database) -> list[dict[str, Any]]:
    async def read(tx: Transaction) -> list[dict[str, Any]]:
        return [dict(r) for r in (await tx.execute(select(task_instance))).mappings()]

    return await db.run(read, write=False)
