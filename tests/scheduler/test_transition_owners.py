"""Each writer of a task instance's state performs only the moves the transition table gives it.

docs/architecture.md prints the table by owner: the execution service (a try that reports
moves itself), executor_events (a try whose process ended without reporting), the
scheduler's stages, housekeeping and operator actions. Here each writer is driven, with
real writes on a real database (SQLite and PostgreSQL), over one DAG run holding a task
instance in every state; every move it makes must be its own in the table
(`ti_transition_actors`), and the moves that are not its own are refused or ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from airflow_sc.actions import clear_task_instances, mark_dag_run, mark_task_instances
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, job, task_instance
from airflow_sc.db.queries import jobs
from airflow_sc.domain import DagRunState, TaskInstanceKey, TaskInstanceState, TIState
from airflow_sc.domain.transitions import Actor, check_ti_transition, ti_transition_actors
from airflow_sc.execution.errors import BadRequest, TryConflict
from airflow_sc.execution.protocol import FINISH_STATES, Operation, Start, TryFinish, parse_args
from airflow_sc.execution.service import ExecutionService
from airflow_sc.executors.base import Executor, TaskEvent, Workload
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.housekeeping_rules import HousekeepingLimits
from airflow_sc.scheduler.stages.create_runs import create_due_runs
from airflow_sc.scheduler.stages.enqueue import enqueue_scheduled
from airflow_sc.scheduler.stages.executor_events import apply_events
from airflow_sc.scheduler.stages.housekeeping import housekeeping_once
from airflow_sc.scheduler.stages.schedule_tis import schedule_runs
from airflow_sc.scheduler.stages.start_runs import start_queued_runs
from airflow_sc.sdk import DAG, PythonOperator
from tests.scheduler.dags import T0, FakeClock, store_dag

pytestmark = pytest.mark.anyio

TI = TaskInstanceState
DAG_ID = "every_state"
EVERY_STATE: list[TIState] = [None, *TI]
LONG_AGO = timedelta(hours=2)
LIMITS = HousekeepingLimits(heartbeat_timeout=60, task_queued_timeout=600, interval=5)


def task_id_of(state: TIState) -> str:
    return f"t_{'none' if state is None else state.value}"


def noop() -> None:
    return None


class HoldingExecutor(Executor):
    """Takes what it is given and runs nothing: enqueue's moves stay the scheduler's own."""

    name = "local"

    def __init__(self) -> None:
        self.submitted: list[Workload] = []

    async def serve(self, events: Any, *, task_status: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError

    async def submit(self, workloads: Any) -> None:
        self.submitted.extend(workloads)

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        return None


@dataclass
class World:
    """One running DAG run with a task instance per state (`seed`), on fake time."""

    db: Database
    clock: FakeClock
    deps: StageDeps
    run_pk: int
    run_id: str
    job_id: int

    async def seed(self, states: Mapping[str, TIState] | None = None) -> dict[str, str]:
        """Put each task instance in its state (`t_<state>` by default); their ids by task."""
        wanted = states or {task_id_of(state): state for state in EVERY_STATE}
        past = self.clock() - LONG_AGO

        async def body(tx: Transaction) -> dict[str, str]:
            ids = {}
            for task_id, state in wanted.items():
                values: dict[str, Any] = {
                    "state": None if state is None else state.value,
                    "try_number": 0 if state in (None, TI.SCHEDULED) else 1,
                    "max_tries": 1,
                    "queued_dttm": past,
                    "start_date": past if state is not TI.QUEUED else None,
                    "end_date": past if state in (TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE) else None,
                    "last_heartbeat_at": past,
                    "queued_by_job_id": self.job_id,
                    "trigger_timeout": past if state is TI.DEFERRED else None,
                }
                where = (task_instance.c.dag_id == DAG_ID, task_instance.c.task_id == task_id)
                await tx.execute(update(task_instance).where(*where).values(**values))
                ids[task_id] = str(await tx.scalar(select(task_instance.c.id).where(*where)))
            await tx.execute(
                update(dag_run).where(dag_run.c.id == self.run_pk).values(state="running")
            )
            return ids

        return await self.db.run(body)

    async def states(self) -> dict[str, TIState]:
        """Each task instance's state, by task id (ids change when a try is queued)."""

        async def body(tx: Transaction) -> dict[str, TIState]:
            rows = await tx.execute(
                select(task_instance.c.task_id, task_instance.c.state).where(
                    task_instance.c.dag_id == DAG_ID
                )
            )
            return {r.task_id: None if r.state is None else TI(r.state) for r in rows}

        return await self.db.run(body, write=False)


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> World:
    with DAG(
        DAG_ID,
        schedule="@daily",
        start_date=T0 - timedelta(days=1),
        dagrun_timeout=timedelta(days=30),
    ) as dag:
        for state in EVERY_STATE:
            PythonOperator(task_id=task_id_of(state), python_callable=noop)
    await store_dag(db, dag, now=clock.now)
    job_id = await jobs.start_job(db, "SchedulerJob", now=clock.now)
    deps = StageDeps(
        SchedulerDeps(db=db, executors=[HoldingExecutor()], clock=clock, parallelism=None),
        job_id,
    )
    await create_due_runs(deps)
    started, _ = await start_queued_runs(deps)
    run_pk = started[0]

    async def run_id(tx: Transaction) -> str:
        return str(await tx.scalar(select(dag_run.c.run_id).where(dag_run.c.id == run_pk)))

    return World(db, clock, deps, run_pk, await db.run(run_id, write=False), job_id)


def moves(before: Mapping[str, TIState], after: Mapping[str, TIState]) -> set[tuple[Any, Any]]:
    return {(before[t], after[t]) for t in before if after.get(t, before[t]) != before[t]}


def assert_owned(before: Mapping[str, TIState], after: Mapping[str, TIState], actor: Actor) -> None:
    for old, new in moves(before, after):
        assert actor in ti_transition_actors(old, new), f"{actor.value} moved {old} -> {new}"


# -- the execution service ------------------------------------------------------------------


async def test_the_execution_service_starts_only_queued_tries(world: World) -> None:
    service = ExecutionService(world.db, clock=world.clock)
    ids = await world.seed()
    for state in EVERY_STATE:
        before = await world.states()
        try:
            await service.start(ids[task_id_of(state)], Start("host", 1))
            started = True
        except TryConflict:
            started = False
        after = await world.states()
        assert started is (state is TI.QUEUED), state
        assert_owned(before, after, Actor.EXECUTION)
        assert moves(before, after) == ({(TI.QUEUED, TI.RUNNING)} if started else set())


@pytest.mark.parametrize("finish", sorted(FINISH_STATES))
async def test_the_execution_service_finishes_only_running_tries(
    world: World, finish: TaskInstanceState
) -> None:
    service = ExecutionService(world.db, clock=world.clock)
    for state in EVERY_STATE:
        ids = await world.seed()
        before = await world.states()
        try:
            await service.finish(TryFinish(ids[task_id_of(state)], finish))
            finished = True
        except TryConflict:
            finished = False
        after = await world.states()
        assert finished is (state is TI.RUNNING), state
        assert_owned(before, after, Actor.EXECUTION)
        assert moves(before, after) == ({(TI.RUNNING, finish)} if finished else set())


async def test_a_finish_in_a_state_the_table_does_not_give_a_try_is_refused(
    world: World,
) -> None:
    for state in set(EVERY_STATE) - FINISH_STATES - {None}:
        with pytest.raises(BadRequest):
            parse_args(Operation.FINISH, {"state": state.value})
    service = ExecutionService(world.db, clock=world.clock)
    ids = await world.seed()
    before = await world.states()
    with pytest.raises(ValueError, match="illegal"):
        await service.finish(TryFinish(ids[task_id_of(TI.RUNNING)], TI.QUEUED))
    assert await world.states() == before


# -- executor events ------------------------------------------------------------------------


def ended(
    world: World, ids: Mapping[str, str], recorded: TaskInstanceState | None
) -> list[TaskEvent]:
    return [
        TaskEvent(
            ti_id,
            TaskInstanceKey(DAG_ID, world.run_id, task_id, -1, 0 if "none" in task_id else 1),
            world.clock(),
            recorded=recorded,
        )
        for task_id, ti_id in ids.items()
    ]


async def test_executor_events_end_only_tries_in_flight_that_did_not_report(
    world: World,
) -> None:
    ids = await world.seed()
    before = await world.states()
    await apply_events(world.deps, ended(world, ids, recorded=None))
    after = await world.states()
    assert_owned(before, after, Actor.EXECUTOR_EVENTS)
    # The tasks have no retries: the retry rule fails them.
    assert moves(before, after) == {
        (TI.QUEUED, TI.FAILED),
        (TI.RUNNING, TI.FAILED),
        (TI.RESTARTING, None),
    }


async def test_executor_events_never_write_what_a_try_reported(world: World) -> None:
    ids = await world.seed()
    before = await world.states()
    for recorded in FINISH_STATES:
        await apply_events(world.deps, ended(world, ids, recorded=recorded))
    assert await world.states() == before


# -- housekeeping ---------------------------------------------------------------------------


async def test_housekeeping_moves_only_zombies_stuck_tries_and_timed_out_triggers(
    world: World,
) -> None:
    await world.seed()
    before = await world.states()
    await housekeeping_once(world.db, now=world.clock(), limits=LIMITS, job_id=world.job_id)
    after = await world.states()
    assert_owned(before, after, Actor.HOUSEKEEPING)
    assert moves(before, after) == {
        (TI.RUNNING, TI.UP_FOR_RETRY),  # a zombie
        (TI.QUEUED, TI.SCHEDULED),  # stuck in queued: requeued
        (TI.DEFERRED, TI.SCHEDULED),  # its trigger timed out
    }


async def test_housekeeping_resets_only_the_tries_in_flight_of_a_dead_scheduler(
    world: World,
) -> None:
    await world.seed()

    async def dead(tx: Transaction) -> None:
        stale = world.clock() - LONG_AGO
        await tx.execute(update(job).where(job.c.id == world.job_id).values(latest_heartbeat=stale))

    await world.db.run(dead)
    before = await world.states()
    await housekeeping_once(world.db, now=world.clock(), limits=LIMITS, job_id=None)
    after = await world.states()
    assert_owned(before, after, Actor.HOUSEKEEPING)
    orphans = {(TI.QUEUED, None), (TI.RUNNING, None), (TI.RESTARTING, None)}
    assert orphans <= moves(before, after)


# -- operator actions -----------------------------------------------------------------------


async def test_clearing_moves_only_what_a_user_may(world: World) -> None:
    await world.seed()
    before = await world.states()
    await clear_task_instances(world.db, DAG_ID, now=world.clock())
    after = await world.states()
    assert_owned(before, after, Actor.USER)
    assert {(old, new) for old, new in moves(before, after) if old in (TI.QUEUED, TI.RUNNING)} == {
        (TI.QUEUED, TI.RESTARTING),
        (TI.RUNNING, TI.RESTARTING),
    }


@pytest.mark.parametrize("mark", ["success", "failed", "skipped"])
async def test_marking_moves_only_what_a_user_may(world: World, mark: str) -> None:
    await world.seed()
    before = await world.states()
    tasks = [task_id_of(state) for state in EVERY_STATE]
    await mark_task_instances(world.db, DAG_ID, world.run_id, tasks, mark, now=world.clock())  # type: ignore[arg-type]
    after = await world.states()
    assert_owned(before, after, Actor.USER)
    assert set(after.values()) == {TI(mark)}


@pytest.mark.parametrize("mark", ["success", "failed"])
async def test_marking_a_run_moves_only_what_a_user_may(world: World, mark: str) -> None:
    await world.seed()
    before = await world.states()
    await mark_dag_run(world.db, DAG_ID, world.run_id, mark, now=world.clock())  # type: ignore[arg-type]
    after = await world.states()
    assert_owned(before, after, Actor.USER)
    assert moves(before, after)


# -- the scheduler's stages -----------------------------------------------------------------


async def test_schedule_tis_and_enqueue_move_only_what_the_scheduler_may(world: World) -> None:
    await world.seed()
    world.clock.advance(timedelta(days=1))  # retry delays are over
    before = await world.states()
    await schedule_runs(world.deps, [world.run_pk])
    scheduled = await world.states()
    assert_owned(before, scheduled, Actor.SCHEDULER)
    assert (None, TI.SCHEDULED) in moves(before, scheduled)
    assert (TI.UP_FOR_RETRY, TI.SCHEDULED) in moves(before, scheduled)
    await enqueue_scheduled(world.deps)
    queued = await world.states()
    assert_owned(scheduled, queued, Actor.SCHEDULER)
    assert moves(scheduled, queued) == {(TI.SCHEDULED, TI.QUEUED)}


async def test_a_timed_out_run_skips_only_what_the_scheduler_may(world: World) -> None:
    await world.seed()
    world.clock.advance(timedelta(days=60))  # past the run's dagrun_timeout
    before = await world.states()
    [result] = await schedule_runs(world.deps, [world.run_pk])
    after = await world.states()
    assert result.finished is DagRunState.FAILED
    assert_owned(before, after, Actor.SCHEDULER)
    assert {new for _, new in moves(before, after)} == {TI.SKIPPED}


def test_no_writer_may_move_a_try_the_way_the_old_race_did() -> None:
    """An executor's fork is not a start: only the try's own process starts it."""
    with pytest.raises(ValueError, match="illegal"):
        check_ti_transition(TI.QUEUED, TI.RUNNING, actor=Actor.EXECUTOR_EVENTS)
    with pytest.raises(ValueError, match="illegal"):
        check_ti_transition(TI.RUNNING, TI.SUCCESS, actor=Actor.EXECUTOR_EVENTS)
