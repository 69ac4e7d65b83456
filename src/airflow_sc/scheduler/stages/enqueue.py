"""enqueue: the single critical section, SCHEDULED -> QUEUED, then hand to the executors.

One transaction reads every scheduled task instance, the pools and the queued/running
counts, lets `policy.admission.admit` choose (pools and pool_slots, parallelism,
max_active_tasks, per-task caps, priority order), moves the chosen ones to QUEUED with their
next try (a new task_instance id per try, as Airflow 3 does) and commits. Only then are the
workloads submitted: no transaction is held across an await on an executor. On PostgreSQL
the section holds a transaction-scoped advisory lock, so a second scheduler skips instead of
waiting; on SQLite one scheduler owns the database.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.domain import DagRunKey, TaskInstanceKey, TaskInstanceState
from airflow_sc.domain.transitions import Actor, check_ti_transition, ti_sources
from airflow_sc.executors.base import Workload
from airflow_sc.executors.routing import UnknownExecutor
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.policy import ActiveCounts, Candidate, PoolState, admit
from airflow_sc.scheduler.policy.admission import Blocked
from airflow_sc.scheduler.stages._loop import run_stage
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.serialization.spec import DagSpec, TaskSpec

__all__ = ["EnqueueResult", "enqueue_scheduled", "serve_enqueue"]

log = logging.getLogger(__name__)

#: Seconds to wait before trying again when another scheduler holds the critical section.
LOCK_RETRY_DELAY = 0.05
#: Seconds submitting a committed batch may take once shutdown has begun.
SUBMIT_GRACE = 10.0
#: Fewest scheduled task instances read per page (a page is 4x what may be queued).
MIN_PAGE = 64
_SCHEDULED = TaskInstanceState.SCHEDULED
#: What enqueue may queue, by the transition table: scheduled task instances.
QUEUE_FROM = frozenset(
    s.value
    for s in ti_sources(Actor.SCHEDULER, TaskInstanceState.QUEUED, TaskInstanceState)
    if s is not None
)


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    #: Workloads committed as QUEUED, by executor name.
    submitted: Mapping[str, list[Workload]]
    #: False when another scheduler held the critical section.
    locked: bool = True
    #: Runs with a task instance failed because its executor is not configured.
    failed_runs: frozenset[int] = frozenset()
    #: Runs with task instances queued by this pass.
    queued_runs: frozenset[int] = frozenset()

    @property
    def count(self) -> int:
        return sum(len(w) for w in self.submitted.values())


async def serve_enqueue(
    deps: StageDeps, wakeups: StageWakeups, *, task_status: TaskStatus[None]
) -> None:
    async def one_pass(woken: bool) -> float | None:
        result = await enqueue_scheduled(deps)
        if result.failed_runs:
            wakeups.mark_dirty(set(result.failed_runs))
        deps.progressed(result.queued_runs | result.failed_runs)
        return None if result.locked else LOCK_RETRY_DELAY

    await run_stage(
        wakeups.enqueue,
        one_pass,
        sweep_interval=deps.deps.sweep_interval,
        passes=wakeups.passes,
        stop=deps.stopping,
        task_status=task_status,
    )


async def enqueue_scheduled(deps: StageDeps) -> EnqueueResult:
    """One pass: queue what may run now and submit it; returns what was submitted."""
    # The commit and the submission belong together: once the batch is committed as
    # QUEUED it is handed over even if shutdown cancels the stage meanwhile.
    with anyio.CancelScope() as scope:
        result = await deps.db.run(lambda tx: _queue(tx, deps))
        scope.shield = True
        with anyio.move_on_after(SUBMIT_GRACE):
            executors = deps.executors
            for name, workloads in result.submitted.items():
                await executors[name].submit(workloads)
    return result


async def _queue(tx: Transaction, deps: StageDeps) -> EnqueueResult:
    if not await scheduling.try_enqueue_lock(tx):
        return EnqueueResult({}, locked=False)
    pools = {
        name: PoolState(slots, occupied)
        for name, (slots, occupied) in (await scheduling.pools(tx)).items()
    }
    active = _active_counts(await scheduling.active_counts(tx))
    open_slots = {name: ex.open_slots() for name, ex in deps.executors.items()}
    budget = _budget(deps.deps.parallelism, active.total, open_slots.values())
    if budget <= 0:
        return EnqueueResult({})
    # Read the scheduled task instances in admission order, a page at a time, until the
    # budget is filled: a pass costs what it can queue, not what is waiting (a free slot
    # with thousands of scheduled task instances reads one page).
    page = max(MIN_PAGE, 4 * int(budget)) if math.isfinite(budget) else None
    rows: list[scheduling.ScheduledRow] = []
    while True:
        fetched = await scheduling.scheduled_task_instances(tx, limit=page, offset=len(rows))
        rows.extend(fetched)
        plan = await _plan(tx, deps, rows, pools, active, dict(open_slots))
        if page is None or len(fetched) < page or len(plan.moves) >= budget:
            break
    unroutable = {row.id: (row, why) for row, why in plan.unroutable}
    still_scheduled = await scheduling.lock_scheduled(
        tx, [old for old, _, _ in plan.moves] + list(unroutable)
    )
    moves = [move for move in plan.moves if move[0] in still_scheduled]
    submitted: dict[str, list[Workload]] = defaultdict(list)
    for (old, _, _), (name, workload) in zip(plan.moves, plan.workloads, strict=True):
        if old in still_scheduled:
            submitted[name].append(workload)
    for candidate, reason in plan.never_runnable:
        log.warning("task instance %s cannot run: %s", candidate.key, reason.value)
    await scheduling.queue_task_instances(
        tx, moves, from_states=QUEUE_FROM, now=deps.now(), job_id=deps.job_id
    )
    failed = {ti_id: found for ti_id, found in unroutable.items() if ti_id in still_scheduled}
    for row, why in failed.values():
        log.warning(
            "task instance %s.%s of run %s fails: %s", row.dag_id, row.task_id, row.run_id, why
        )
    await scheduling.fail_unroutable(
        tx, [(ti_id, why) for ti_id, (_, why) in failed.items()], now=deps.now()
    )
    return EnqueueResult(
        dict(submitted), failed_runs=frozenset(r.run_pk for r, _ in failed.values())
    )


def _budget(parallelism: int | None, active: int, open_slots: Iterable[int | None]) -> float:
    """How many task instances this pass may queue at most (inf: no limit applies)."""
    free = math.inf if parallelism is None else parallelism - active
    slots = list(open_slots)
    executors = math.inf if not slots or None in slots else sum(n for n in slots if n)
    return min(free, executors)


@dataclass(frozen=True, slots=True)
class _Plan:
    #: (old id, new id, new try number) per task instance to queue, in admission order.
    moves: list[tuple[str, str, int]]
    #: (executor name, workload) for each move.
    workloads: list[tuple[str, Workload]]
    never_runnable: tuple[tuple[Candidate, Blocked], ...]
    #: Admitted task instances whose executor this deployment does not run, and why.
    unroutable: list[tuple[scheduling.ScheduledRow, str]]


async def _plan(
    tx: Transaction,
    deps: StageDeps,
    rows: list[scheduling.ScheduledRow],
    pools: Mapping[str, PoolState],
    active: ActiveCounts,
    open_slots: dict[str, int | None],
) -> _Plan:
    """What to queue from `rows` (admission, then each executor's open slots)."""
    specs = await deps.versions.get(tx, {r.version_id for r in rows})
    by_key: dict[TaskInstanceKey, scheduling.ScheduledRow] = {}
    candidates: list[Candidate] = []
    for row in rows:
        task = _task(specs, row)
        key = TaskInstanceKey(row.dag_id, row.run_id, row.task_id, row.map_index, row.try_number)
        by_key[key] = row
        candidates.append(
            Candidate(
                key=key,
                pool=row.pool,
                pool_slots=max(1, row.pool_slots),
                priority_weight=row.priority_weight,
                logical_date=row.logical_date,
                max_active_tasks=row.max_active_tasks,
                max_active_tis_per_dag=None if task is None else task.max_active_tis_per_dag,
                max_active_tis_per_dagrun=None if task is None else task.max_active_tis_per_dagrun,
            )
        )
    admission = admit(candidates, pools=pools, active=active, parallelism=deps.deps.parallelism)
    moves: list[tuple[str, str, int]] = []
    workloads: list[tuple[str, Workload]] = []
    unroutable: list[tuple[scheduling.ScheduledRow, str]] = []
    for candidate in admission.queued:
        row = by_key[candidate.key]
        spec = specs.get(row.version_id or "")
        task = _task(specs, row)
        if spec is None or task is None:
            continue
        try:
            name = deps.routing.executor_for(
                dag_id=row.dag_id,
                task_id=row.task_id,
                named=row.executor or task.executor,
                is_async=task.is_async,
            )
        except UnknownExecutor as exc:
            check_ti_transition(
                TaskInstanceState.SCHEDULED, TaskInstanceState.FAILED, actor=Actor.SCHEDULER
            )
            unroutable.append((row, str(exc)))
            continue
        room = open_slots.get(name)
        if room is not None:
            if room <= 0:
                continue
            open_slots[name] = room - 1
        # Try 1 keeps the id the instance was created with; every later try gets a new one.
        new_id = row.id if row.try_number == 0 else str(uuid.uuid4())
        moves.append((row.id, new_id, row.try_number + 1))
        workloads.append((name, _workload(spec, task, row, new_id, name)))
    return _Plan(moves, workloads, admission.never_runnable, unroutable)


def _task(specs: Mapping[str, DagSpec], row: scheduling.ScheduledRow) -> TaskSpec | None:
    spec = specs.get(row.version_id or "")
    return None if spec is None else spec.tasks.get(row.task_id)


def _active_counts(rows: list[tuple[str, str, str, int]]) -> ActiveCounts:
    per_run: dict[DagRunKey, int] = defaultdict(int)
    per_task: dict[tuple[str, str], int] = defaultdict(int)
    per_run_task: dict[tuple[str, str, str], int] = defaultdict(int)
    total = 0
    for dag_id, run_id, task_id, count in rows:
        total += count
        per_run[DagRunKey(dag_id, run_id)] += count
        per_task[(dag_id, task_id)] += count
        per_run_task[(dag_id, run_id, task_id)] += count
    return ActiveCounts(total, dict(per_run), dict(per_task), dict(per_run_task))


def _workload(
    spec: DagSpec, task: TaskSpec, row: scheduling.ScheduledRow, ti_id: str, executor: str
) -> Workload:
    timeout = task.execution_timeout
    return Workload(
        ti_id=ti_id,
        key=TaskInstanceKey(row.dag_id, row.run_id, row.task_id, row.map_index, row.try_number + 1),
        dag_fileloc=spec.fileloc,
        dag_hash=spec.dag_hash,
        queue=row.queue or "default",
        priority_weight=row.priority_weight,
        pool_slots=row.pool_slots,
        executor=executor,
        execution_timeout=None if timeout is None else timeout.total_seconds(),
        is_async=task.is_async,
        run_as_user=task.run_as_user,
    )
