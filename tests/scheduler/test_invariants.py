"""Random DAGs and executor outcomes against the scheduler's invariants (hypothesis, stateful).

A `RuleBasedStateMachine` draws a small world (pools with a few slots, two or three DAGs of
up to five tasks with random dependencies, trigger rules, pools and pool_slots, priority
weights and retries) and then interleaves the real stage passes (create and start runs,
schedule_tis, enqueue, executor_events) with random executor behaviour (tries finishing
with success or failure, in any order, events delivered late or twice) and the clock
moving on, on a real SQLite database with the in-memory executor. After every step:

- a try is never handed to an executor twice (no task instance runs twice in one try);
- no pool holds more slots than it has; no more than `PARALLELISM` instances are active;
- after each enqueue pass, within a pool, no lower-priority instance was queued while a
  higher-priority one that fitted (no more pool_slots, its run under max_active_tasks)
  stayed scheduled.

At the end of each example the world is driven to completion: every run must reach a
terminal state.

The machine drives the stage functions by hand through a blocking portal (on each anyio
backend), so the order of passes is hypothesis's to choose (and to shrink). It runs on
SQLite only: each example needs its own database, a file copy on SQLite but a TRUNCATE of
every table on PostgreSQL, and the stages' decisions do not depend on the dialect (the
stage tests and the two-scheduler test cover PostgreSQL's locking).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.queries import jobs, scheduling
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import TaskEvent
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.stages.create_runs import create_due_runs
from airflow_sc.scheduler.stages.enqueue import enqueue_scheduled
from airflow_sc.scheduler.stages.executor_events import apply_events
from airflow_sc.scheduler.stages.schedule_tis import schedule_runs
from airflow_sc.scheduler.stages.start_runs import start_queued_runs
from airflow_sc.sdk import DAG, PythonOperator, TriggerRule
from airflow_sc.testing.databases import copy_sqlite_template
from tests.scheduler.dags import T0, FakeClock, all_tis, memory_executor, runs, set_pool, store_dag

TI = TaskInstanceState
PARALLELISM = 4
RETRY_DELAY = timedelta(seconds=30)
TRIGGER_RULES = [
    TriggerRule.ALL_SUCCESS,
    TriggerRule.ALL_DONE,
    TriggerRule.ONE_SUCCESS,
    TriggerRule.ONE_FAILED,
    TriggerRule.NONE_FAILED,
    TriggerRule.ALL_FAILED,
]
ACTIVE = ("queued", "running")
#: Tries one `tries_finish` step can end, and the outcomes it draws them from.
MASK_BITS = 12
OUTCOMES = (TI.SUCCESS, TI.SUCCESS, TI.FAILED)
TERMINAL_RUN = ("success", "failed")


def noop() -> None:
    return None


@dataclass(frozen=True)
class TaskPlan:
    upstream: tuple[int, ...]
    trigger_rule: TriggerRule
    pool: str
    pool_slots: int
    priority_weight: int
    retries: int


@dataclass(frozen=True)
class DagPlan:
    tasks: tuple[TaskPlan, ...]
    max_active_tasks: int
    runs: int


@dataclass(frozen=True)
class World:
    pools: dict[str, int]
    dags: tuple[DagPlan, ...]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    pools = {
        "default_pool": 128,
        "narrow": draw(st.integers(1, 3)),
        "wide": draw(st.integers(2, 4)),
    }
    dags = []
    for _ in range(draw(st.integers(1, 3))):
        tasks = []
        for index in range(draw(st.integers(1, 5))):
            pool = draw(st.sampled_from(sorted(pools)))
            tasks.append(
                TaskPlan(
                    upstream=tuple(
                        sorted(draw(st.sets(st.integers(0, index - 1), max_size=2)))
                        if index
                        else ()
                    ),
                    trigger_rule=draw(st.sampled_from(TRIGGER_RULES)),
                    pool=pool,
                    # Never more than the pool has: such a task would wait forever.
                    pool_slots=draw(st.integers(1, min(2, pools[pool]))),
                    priority_weight=draw(st.integers(1, 5)),
                    retries=draw(st.integers(0, 1)),
                )
            )
        dags.append(DagPlan(tuple(tasks), draw(st.integers(1, 4)), draw(st.integers(1, 2))))
    return World(pools, tuple(dags))


def build_dag(dag_id: str, plan: DagPlan) -> DAG:
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=T0 - timedelta(days=plan.runs),
        catchup=True,
        max_active_tasks=plan.max_active_tasks,
        fileloc=f"/dags/{dag_id}.py",
    ) as dag:
        operators: list[PythonOperator] = []
        for index, task in enumerate(plan.tasks):
            operator = PythonOperator(
                task_id=f"t{index}",
                python_callable=noop,
                trigger_rule=task.trigger_rule,
                pool=task.pool,
                pool_slots=task.pool_slots,
                priority_weight=task.priority_weight,
                # Absolute: the row's weight is the drawn one, easy to read in a failure.
                weight_rule="absolute",
                retries=task.retries,
                retry_delay=RETRY_DELAY,
            )
            for up in task.upstream:
                operators[up] >> operator
            operators.append(operator)
    return dag


Key = tuple[str, str, str, int]


def key_of(ti: dict[str, Any]) -> Key:
    return (ti["dag_id"], ti["run_id"], ti["task_id"], ti["map_index"])


class SchedulerMachine(RuleBasedStateMachine):
    """One example: a fresh database, a world of DAGs, and random passes and outcomes."""

    portal: BlockingPortal
    template: Path
    workdir: Path
    examples: Iterator[int]

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        directory = self.workdir / f"example-{next(self.examples)}"
        directory.mkdir()
        url = copy_sqlite_template(self.template, directory)
        self.db: Database = self.stack.enter_context(
            self.portal.wrap_async_context_manager(open_database(url))
        )
        self.clock = FakeClock()
        self.executor = memory_executor(self.db, self.clock, hold=True)
        job_id = self.portal.call(lambda: jobs.start_job(self.db, "SchedulerJob", now=T0))
        self.deps = StageDeps(
            SchedulerDeps(
                db=self.db,
                executors=[self.executor],
                clock=self.clock,
                parallelism=PARALLELISM,
            ),
            job_id,
        )
        self.pools: dict[str, int] = {}
        self.max_active_tasks: dict[str, int] = {}
        #: Events the executor reported that executor_events has not applied yet.
        self.pending: list[TaskEvent] = []
        #: The last batch applied (executors may deliver an event twice).
        self.applied: list[TaskEvent] = []

    # -- the world -------------------------------------------------------------------

    @initialize(world=worlds())
    def create_world(self, world: World) -> None:
        self.pools = world.pools
        for name, slots in world.pools.items():
            self.portal.call(set_pool, self.db, name, slots)
        for index, plan in enumerate(world.dags):
            dag_id = f"dag{index}"
            self.max_active_tasks[dag_id] = plan.max_active_tasks
            dag = build_dag(dag_id, plan)
            self.portal.call(partial(store_dag, self.db, dag, now=T0))

    # -- stage passes ----------------------------------------------------------------

    @rule()
    def create_and_start_runs(self) -> None:
        self.portal.call(create_due_runs, self.deps)
        self.portal.call(start_queued_runs, self.deps)

    @rule()
    def schedule_tis(self) -> None:
        self.portal.call(self._schedule_all)

    async def _schedule_all(self) -> None:
        running = await self.db.run(scheduling.running_run_ids, write=False)
        if running:
            await schedule_runs(self.deps, running)

    @rule()
    def enqueue(self) -> None:
        before = {key_of(t): t for t in self._tis() if t["state"] == "scheduled"}
        self.portal.call(enqueue_scheduled, self.deps)
        after = self._tis()
        queued = [t for t in after if t["state"] == "queued" and key_of(t) in before]
        waiting = [t for t in after if t["state"] == "scheduled"]
        self._check_priorities(queued, waiting, after)

    @rule()
    def apply_events(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            self.portal.call(apply_events, self.deps, batch)
            self.applied = batch

    @rule()
    def apply_the_last_batch_again(self) -> None:
        if self.applied:
            self.portal.call(apply_events, self.deps, self.applied)

    # -- the executor and the clock --------------------------------------------------

    @rule(data=st.data())
    def tries_finish(self, data: st.DataObject) -> None:
        # Draws must not depend on the world's state (ti ids are random uuids, and how
        # many tries run varies): a fixed-width bit mask over the tries in key order and
        # one outcome per bit, so hypothesis can replay and shrink a failing example.
        running = sorted(self.executor.running.items(), key=lambda item: item[1].key)
        mask = data.draw(st.integers(1, 2**MASK_BITS - 1))
        outcomes = data.draw(
            st.lists(st.sampled_from(OUTCOMES), min_size=MASK_BITS, max_size=MASK_BITS)
        )
        for bit, (ti_id, _) in enumerate(running[:MASK_BITS]):
            if mask >> bit & 1:
                self.portal.call(self.executor.release, [ti_id], outcomes[bit])
        self._collect()

    @rule(seconds=st.sampled_from([1, 31, 600]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def _collect(self) -> None:
        self.pending.extend(self.executor.drain_events())

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def no_try_is_handed_out_twice(self) -> None:
        tries = Counter(w.key for w in self.executor.submitted)
        assert max(tries.values(), default=1) == 1, "a try was submitted twice"

    @invariant()
    def limits_hold(self) -> None:
        if not self.pools:
            return
        active = [t for t in self._tis() if t["state"] in ACTIVE]
        assert len(active) <= PARALLELISM, f"parallelism exceeded: {len(active)}"
        used = Counter[str]()
        for t in active:
            used[t["pool"]] += t["pool_slots"]
        for pool, slots in used.items():
            assert slots <= self.pools[pool], f"pool {pool} over-committed: {slots}"

    def _check_priorities(
        self,
        queued: list[dict[str, Any]],
        waiting: list[dict[str, Any]],
        after: list[dict[str, Any]],
    ) -> None:
        per_run = Counter((t["dag_id"], t["run_id"]) for t in after if t["state"] in ACTIVE)
        for w in waiting:
            if per_run[(w["dag_id"], w["run_id"])] >= self.max_active_tasks[w["dag_id"]]:
                continue  # its run is at max_active_tasks: it could not go
            for q in queued:
                assert not (
                    q["pool"] == w["pool"]
                    and q["priority_weight"] < w["priority_weight"]
                    and q["pool_slots"] >= w["pool_slots"]
                ), f"{key_of(q)} (weight {q['priority_weight']}) queued before {key_of(w)}"

    def _tis(self) -> list[dict[str, Any]]:
        return self.portal.call(all_tis, self.db)

    # -- the end ---------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.pools:
                self._finish_everything()
        finally:
            self.stack.close()

    def _finish_everything(self) -> None:
        """Every try succeeds from now on; every run must end within a few rounds."""
        for _ in range(40):
            self.portal.call(partial(self.executor.release, outcome=TI.SUCCESS))
            self._collect()
            self.apply_events()
            self.clock.advance(timedelta(minutes=10))
            self.create_and_start_runs()
            self.schedule_tis()
            self.enqueue()
            found = [r for d in self.max_active_tasks for r in self.portal.call(runs, self.db, d)]
            if found and all(r["state"] in TERMINAL_RUN for r in found):
                break
        states = {(r["dag_id"], r["run_id"]): r["state"] for r in found}
        assert all(s in TERMINAL_RUN for s in states.values()), f"runs left unfinished: {states}"
        stuck = [key_of(t) for t in self._tis() if t["state"] in (*ACTIVE, "scheduled")]
        assert not stuck, f"task instances left behind by finished runs: {stuck}"


def test_random_dags_and_outcomes_keep_the_scheduler_invariants(
    anyio_backend: str, sqlite_database_template: Path, tmp_path: Path
) -> None:
    with start_blocking_portal(anyio_backend) as portal:
        SchedulerMachine.portal = portal
        SchedulerMachine.template = sqlite_database_template
        SchedulerMachine.workdir = tmp_path
        SchedulerMachine.examples = itertools.count()
        run_state_machine_as_test(
            SchedulerMachine,
            settings=settings(
                max_examples=30,
                stateful_step_count=35,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
