"""schedule_tis: decide the task instances of running dag runs, one run at a time.

Dirty runs are handled in transactions of up to `RUNS_PER_TRANSACTION` runs. For each run
marked dirty (or, on a sweep, every running run) the run row is locked
(`FOR UPDATE SKIP LOCKED` on PostgreSQL: another scheduler's run is skipped, not waited
for), its task instances are planned (`run_plan.plan_run`: trigger rules, retries, past
dependencies, EmptyOperator short-circuit, dagrun_timeout, fail_fast, completion) and the
plan is written. A finished run records its end and, if the DAG defines the matching
callback, a `callback_request` row: DAG callbacks run outside the scheduler, in the DAG
processor that can load the DAG file. Tries a timed-out or fail_fast-stopped run still had
in flight are stopped (`Executor.terminate`). After a run fails, a DAG with
``max_consecutive_failed_dag_runs`` is paused when its newest runs all failed
(`domain.fail_fast.should_pause`), in a transaction of its own (the dag row is locked
before dag_run rows everywhere else).

A run skipped because another scheduler holds it stays dirty here and is looked at again
after `BUSY_RETRY_DELAY`, so a wake-up is never lost to a lock. A try cleared while in
flight (RESTARTING) that this scheduler handed to its executors is stopped at once
(`Executor.terminate`); a try another scheduler handed out learns it at its next heartbeat.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.domain import DagRunState, TaskInstanceState
from airflow_sc.domain.fail_fast import should_pause
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.policy import PastSnapshot
from airflow_sc.scheduler.run_plan import PlannedInstance, RunPlan, plan_run
from airflow_sc.scheduler.stages._loop import run_stage
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.serialization.spec import DagSpec

__all__ = [
    "BUSY_RETRY_DELAY",
    "RUNS_PER_TRANSACTION",
    "RunResult",
    "schedule_run",
    "schedule_runs",
    "serve_schedule_tis",
]

log = logging.getLogger(__name__)
TI = TaskInstanceState

#: Dirty runs decided in one transaction at most (each still row-locked on its own).
RUNS_PER_TRANSACTION = 64
#: Seconds until a run another scheduler was deciding is looked at again.
BUSY_RETRY_DELAY = 0.05


@dataclass
class RunResult:
    scheduled: int = 0
    finished: DagRunState | None = None
    next_due: datetime | None = None
    interrupted: list[str] = field(default_factory=list)
    #: Why the tries in `interrupted` are stopped.
    interrupted_because: str = "dagrun_timeout"
    #: A failed run of a DAG with max_consecutive_failed_dag_runs: (dag_id, limit).
    pause_check: tuple[str, int] | None = None
    #: Another scheduler held the run: nothing was decided, look again soon.
    busy: bool = False
    #: Tries this scheduler handed to its executors that were cleared while in flight
    #: (RESTARTING): stopped now rather than at their next heartbeat.
    cleared: list[str] = field(default_factory=list)
    #: Something was written: task instances moved, or the run finished.
    changed: bool = False
    #: Why the run finished, as Airflow's DAG-run listeners are told.
    finished_because: str = ""


async def serve_schedule_tis(
    deps: StageDeps, wakeups: StageWakeups, *, task_status: TaskStatus[None]
) -> None:
    #: When each run next needs a pass of its own (a retry delay ending), by run pk. Kept
    #: across passes: a pass woken for other runs must not forget an earlier run's retry.
    dues: dict[int, datetime] = {}
    #: Runs skipped because another scheduler held them. The holder usually sees what made
    #: them dirty, but not if it dies mid-transaction: keep them dirty here and look again
    #: shortly rather than at the next sweep.
    busy: set[int] = set()
    #: Cleared tries already asked to stop, by run pk (asked once, forgotten once gone).
    stopping: dict[int, set[str]] = {}

    #: When the last full sweep started (loop time).
    swept_at = -math.inf

    async def one_pass(woken: bool) -> float | None:
        nonlocal swept_at
        now = deps.now()
        dirty = wakeups.take_dirty() | busy | {pk for pk, due in dues.items() if due <= now}
        busy.clear()
        # A full sweep when woken with nothing named, or when the sweep timer (not a busy
        # run's or a retry's own timer) ended the wait.
        elapsed = anyio.current_time() - swept_at
        if not dirty or (not woken and elapsed >= deps.deps.sweep_interval):
            swept_at = anyio.current_time()
            dirty |= set(await deps.db.run(scheduling.running_run_ids, write=False))
            for gone in dues.keys() - dirty:  # no longer running: nothing to wait for
                del dues[gone]
        ordered = sorted(dirty)
        progressed: set[int] = set()
        for start in range(0, len(ordered), RUNS_PER_TRANSACTION):
            batch = ordered[start : start + RUNS_PER_TRANSACTION]
            for run_pk, result in zip(batch, await schedule_runs(deps, batch), strict=True):
                if result.busy:  # nothing decided: look again soon, keep what was due
                    busy.add(run_pk)
                    continue
                if result.changed:
                    progressed.add(run_pk)
                if result.scheduled:
                    wakeups.enqueue.set()
                if result.finished is not None:
                    deps.run_notices.add(run_pk, result.finished, result.finished_because)
                    wakeups.start_runs.set()
                    wakeups.create_runs.set()
                if result.interrupted:
                    await _terminate(deps, result.interrupted, reason=result.interrupted_because)
                if result.pause_check is not None:
                    await _pause_after_failures(deps, *result.pause_check)
                if result.cleared or run_pk in stopping:
                    asked = stopping.pop(run_pk, set())
                    if fresh := [ti_id for ti_id in result.cleared if ti_id not in asked]:
                        await _terminate(deps, fresh, reason="cleared while running")
                    if result.cleared:
                        stopping[run_pk] = set(result.cleared)
                if result.next_due is None:
                    dues.pop(run_pk, None)
                else:
                    dues[run_pk] = result.next_due
        deps.progressed(progressed)
        again = None if not dues else (min(dues.values()) - deps.now()).total_seconds() + 0.001
        if busy:
            again = BUSY_RETRY_DELAY if again is None else min(again, BUSY_RETRY_DELAY)
        return again

    await run_stage(
        wakeups.schedule_tis,
        one_pass,
        sweep_interval=deps.deps.sweep_interval,
        passes=wakeups.passes,
        stop=deps.finished,
        task_status=task_status,
    )


async def schedule_run(deps: StageDeps, run_pk: int) -> RunResult:
    """Plan and write one run in one transaction (nothing if another scheduler holds it)."""
    return (await schedule_runs(deps, [run_pk]))[0]


async def schedule_runs(deps: StageDeps, run_pks: list[int]) -> list[RunResult]:
    """Plan and write these runs, one after another, in one transaction.

    Results come in the order of `run_pks`; the runs are locked in ascending primary-key
    order (`scheduling.TI_LOCK_ORDER`).
    """
    now = deps.now()

    async def body(tx: Transaction) -> dict[int, RunResult]:
        return {run_pk: await _schedule_one(tx, deps, run_pk, now) for run_pk in sorted(run_pks)}

    decided = await deps.db.run(body)
    results = [decided[run_pk] for run_pk in run_pks]
    for run_pk, result in zip(run_pks, results, strict=True):
        if result.finished is not None:
            log.info("dag run %d finished: %s", run_pk, result.finished.value)
    return results


async def _schedule_one(tx: Transaction, deps: StageDeps, run_pk: int, now: datetime) -> RunResult:
    run = await scheduling.lock_running_run(tx, run_pk)
    if run is None:
        return RunResult(busy=await scheduling.is_running_run(tx, run_pk))
    if run.version_id is None:
        return RunResult()
    spec = (await deps.versions.get(tx, [run.version_id])).get(run.version_id)
    if spec is None:
        return RunResult()
    rows = await scheduling.run_task_instances(tx, run.dag_id, run.run_id, lock=True)
    tis = [
        PlannedInstance(
            r.id,
            r.task_id,
            None if r.state is None else TI(r.state),
            r.try_number,
            r.end_date,
            r.next_retry_delay,
        )
        for r in rows
        if r.map_index == -1
    ]
    cleared = [
        r.id for r in rows if r.state == TI.RESTARTING.value and r.queued_by_job_id == deps.job_id
    ]
    past = await _past_snapshots(tx, spec, tis, run.logical_date)
    plan = plan_run(
        spec, tis, now=now, start_date=run.start_date, logical_date=run.logical_date, past=past
    )
    await _write_plan(tx, plan, now)
    if plan.finished is not None:
        state = plan.finished.state
        await scheduling.finish_run(tx, run.id, state=state.value, now=now)
        await _request_callback(tx, spec, run.run_id, state, plan, now)
    else:
        await scheduling.touch_run(tx, run.id, now=now)
    failed = plan.finished is not None and plan.finished.state is DagRunState.FAILED
    limit = spec.max_consecutive_failed_dag_runs
    return RunResult(
        scheduled=len(plan.moves.get(TI.SCHEDULED, ())),
        finished=None if plan.finished is None else plan.finished.state,
        next_due=plan.next_due,
        interrupted=plan.interrupted,
        interrupted_because="fail_fast" if plan.stopped_fast else "dagrun_timeout",
        pause_check=(run.dag_id, limit) if failed and limit > 0 else None,
        cleared=[] if plan.timed_out or plan.stopped_fast else cleared,
        changed=plan.changed,
        finished_because=_finished_because(plan),
    )


def _finished_because(plan: RunPlan) -> str:
    """Airflow's ``msg`` for a finished run's listeners."""
    if plan.finished is None:
        return ""
    if plan.timed_out:
        return "timed_out"
    return "success" if plan.finished.state is DagRunState.SUCCESS else "task_failure"


async def _write_plan(tx: Transaction, plan: RunPlan, now: datetime) -> None:
    for state, ids in plan.moves.items():
        values: dict[str, Any] = {"updated_at": now}
        if state is TI.SCHEDULED:
            values["scheduled_dttm"] = now
        elif state is TI.SUCCESS:
            values.update(start_date=now, end_date=now, duration=0.0)
        else:
            values["end_date"] = now
        await scheduling.set_task_states(tx, ids, state.value, values)


async def _past_snapshots(
    tx: Transaction, spec: DagSpec, tis: list[PlannedInstance], logical_date: datetime | None
) -> dict[str, PastSnapshot]:
    wanting = [
        ti.task_id
        for ti in tis
        if ti.state is None
        and (spec.tasks[ti.task_id].depends_on_past or spec.tasks[ti.task_id].wait_for_downstream)
    ]
    if not wanting or logical_date is None:
        return {}
    previous = await scheduling.previous_run_states(tx, spec.dag_id, logical_date)
    done = {TI.SUCCESS.value, TI.SKIPPED.value}
    snapshots: dict[str, PastSnapshot] = {}
    for task_id in wanting:
        task = spec.tasks[task_id]
        has_task = previous is not None and task_id in previous
        unsuccessful = has_task and previous is not None and previous[task_id] not in done
        snapshots[task_id] = PastSnapshot(
            depends_on_past=task.depends_on_past,
            wait_for_downstream=task.wait_for_downstream,
            ignore_first_depends_on_past=task.ignore_first_depends_on_past,
            previous_run_exists=previous is not None,
            previous_run_has_task=has_task,
            previous_unsuccessful=int(unsuccessful),
            previous_downstream_unsuccessful=previous is not None
            and any(previous.get(d, "success") not in done for d in task.downstream_task_ids),
            any_prior_instance=has_task,
        )
    return snapshots


async def _request_callback(
    tx: Transaction, spec: DagSpec, run_id: str, state: DagRunState, plan: RunPlan, now: datetime
) -> None:
    failed = state is DagRunState.FAILED
    wanted = "on_failure_callback" if failed else "on_success_callback"
    if wanted not in spec.callbacks:
        return
    reason = "timed_out" if plan.timed_out else (plan.finished.outcome if plan.finished else None)
    await scheduling.request_callback(
        tx,
        callback_type="dag_failure" if failed else "dag_success",
        data={
            "dag_id": spec.dag_id,
            "run_id": run_id,
            "fileloc": spec.fileloc,
            "dag_hash": spec.dag_hash,
            "is_failure_callback": failed,
            "msg": None if reason is None else str(reason),
        },
        now=now,
    )


async def _pause_after_failures(deps: StageDeps, dag_id: str, limit: int) -> None:
    """Pause `dag_id` when its `limit` newest runs all failed (Airflow's auto-pause)."""

    async def body(tx: Transaction) -> bool:
        states = await scheduling.newest_run_states(tx, dag_id, limit)
        if not should_pause(limit, states):
            return False
        return bool(await scheduling.pause_dag(tx, dag_id))

    if await deps.db.run(body):
        log.warning(
            "Pausing DAG %s: its last %d runs failed (max_consecutive_failed_dag_runs)",
            dag_id,
            limit,
        )
        # What shows DAGs (the API's list cache, live views) hears that one was paused.
        if deps.deps.changes is not None:
            deps.deps.changes.dag_changed()


async def _terminate(deps: StageDeps, ti_ids: list[str], *, reason: str) -> None:
    """Stop these tries; never let a slow executor hold the stage for long.

    Each executor ignores the tries it does not hold.
    """
    with anyio.move_on_after(5, shield=True):
        for executor in deps.deps.executors:
            for ti_id in ti_ids:
                await executor.terminate(ti_id, reason=reason)
