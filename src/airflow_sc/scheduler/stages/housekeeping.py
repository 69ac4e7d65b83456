"""The housekeeping stage: orphans of dead schedulers, zombies, stuck queues, trigger timeouts.

Runs on its own timer (`HousekeepingLimits.interval`) and when woken. Each rule reads one
batch of candidates (`FOR UPDATE SKIP LOCKED` on PostgreSQL), decides in plain code
(`airflow_sc.scheduler.housekeeping_rules`), writes the changes with an audit-log row giving
the reason, and commits; then it wakes the stages that continue from the new states and asks
the executors to stop what they may still run for a failed or requeued try. A full batch
means more may be pending: the pass repeats at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus

from airflow_sc.config.settings import SchedulerSettings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import housekeeping as queries
from airflow_sc.db.queries.history import record_history
from airflow_sc.domain.states import TaskInstanceState as TI
from airflow_sc.executors.base import Executor
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.housekeeping_rules import (
    EVENT_STUCK_REQUEUED,
    Decision,
    HousekeepingLimits,
    TaskRow,
    decide_orphan,
    decide_stuck_in_queued,
    decide_trigger_timeout,
    decide_zombie,
    is_stuck_in_queued,
    is_zombie,
    silence_is_evidence,
    trigger_timed_out,
)
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = [
    "BATCH_LIMIT",
    "SCHEDULER_JOB_TYPE",
    "HousekeepingReport",
    "housekeeping_once",
    "housekeeping_stage",
    "limits_from_settings",
    "serve_housekeeping",
]

log = logging.getLogger(__name__)

#: Task instances one rule handles per transaction (a full batch repeats the pass).
BATCH_LIMIT: Final = 500
#: `job.job_type` of scheduler jobs (Airflow's name).
SCHEDULER_JOB_TYPE: Final = "SchedulerJob"
#: Seconds asking an executor to stop a task may take before housekeeping moves on.
TERMINATE_GRACE: Final = 5.0


@dataclass
class HousekeepingReport:
    """What one pass changed (tests and metrics read it)."""

    dead_jobs: list[int] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    #: True when a rule filled its batch: more may be pending.
    more: bool = False

    def by_event(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for decision in self.decisions:
            out.setdefault(decision.event, []).append(decision.ti.id)
        return out


def limits_from_settings(settings: SchedulerSettings) -> HousekeepingLimits:
    return HousekeepingLimits(
        heartbeat_timeout=settings.heartbeat_timeout,
        task_queued_timeout=settings.task_queued_timeout,
        interval=settings.heartbeat_interval,
    )


def _row(data: dict[str, Any], *, requeues: int = 0) -> TaskRow:
    state = data["state"]
    return TaskRow(
        id=data["id"],
        dag_id=data["dag_id"],
        run_id=data["run_id"],
        task_id=data["task_id"],
        map_index=int(data["map_index"]),
        state=None if state is None else TI(state),
        try_number=int(data["try_number"]),
        max_tries=int(data["max_tries"]),
        run_pk=int(data["run_pk"]),
        executor=data["executor"],
        queued_by_job_id=data["queued_by_job_id"],
        start_date=data["start_date"],
        queued_dttm=data["queued_dttm"],
        last_heartbeat_at=data["last_heartbeat_at"],
        trigger_timeout=data["trigger_timeout"],
        requeues=requeues,
    )


async def _apply(tx: Transaction, decisions: Sequence[Decision], now: datetime) -> None:
    await queries.update_task_instances(tx, [(d.ti.id, d.ti.state, d.values) for d in decisions])
    # After the update, as when a try finishes: the history row holds how the try ended.
    await record_history(tx, [d.ti.id for d in decisions if d.record_history])
    await queries.write_events(
        tx,
        [
            {
                "dttm": now,
                "event": d.event,
                "dag_id": d.ti.dag_id,
                "run_id": d.ti.run_id,
                "task_id": d.ti.task_id,
                "map_index": d.ti.map_index,
                "try_number": d.ti.try_number,
                "extra": {"reason": d.reason, "new_state": d.new_state, "ti_id": d.ti.id},
            }
            for d in decisions
        ],
    )


Rule = Callable[[Transaction, datetime], Awaitable[list[Decision]]]


async def _orphans(
    tx: Transaction,
    now: datetime,
    *,
    limits: HousekeepingLimits,
    job_id: int | None,
    report: HousekeepingReport,
    judge_silence: bool,
) -> list[Decision]:
    # After an outage (not `judge_silence`) a running job counts as alive however old its
    # heartbeat: the database could not take its beats (`silence_is_evidence`).
    stale_before = now - timedelta(seconds=limits.heartbeat_timeout) if judge_silence else None
    if stale_before is not None:
        dead = await queries.dead_jobs(
            tx, job_type=SCHEDULER_JOB_TYPE, stale_before=stale_before, exclude=job_id
        )
        await queries.fail_jobs(tx, dead, now=now)
        report.dead_jobs.extend(dead)
    rows = await queries.orphaned_task_instances(
        tx,
        job_type=SCHEDULER_JOB_TYPE,
        alive_since=stale_before,
        exclude=job_id,
        limit=BATCH_LIMIT,
    )
    report.more |= len(rows) >= BATCH_LIMIT
    return [decide_orphan(_row(r), now=now) for r in rows]


async def _zombies(
    tx: Transaction,
    now: datetime,
    *,
    limits: HousekeepingLimits,
    job_id: int | None,
    report: HousekeepingReport,
    judge_silence: bool,
) -> list[Decision]:
    if not judge_silence:
        return []
    timeout = limits.heartbeat_timeout
    rows = await queries.running_silent_since(
        tx, stale_before=now - timedelta(seconds=timeout), queued_by=job_id, limit=BATCH_LIMIT
    )
    report.more |= len(rows) >= BATCH_LIMIT
    candidates = [_row(r) for r in rows]
    return [
        decide_zombie(t, now=now, timeout=timeout)
        for t in candidates
        if is_zombie(t, now=now, timeout=timeout)
    ]


async def _stuck_in_queued(
    tx: Transaction,
    now: datetime,
    *,
    limits: HousekeepingLimits,
    job_id: int | None,
    report: HousekeepingReport,
    judge_silence: bool,
) -> list[Decision]:
    if not judge_silence:
        return []
    timeout = limits.task_queued_timeout
    rows = await queries.queued_before(
        tx, queued_before=now - timedelta(seconds=timeout), queued_by=job_id, limit=BATCH_LIMIT
    )
    report.more |= len(rows) >= BATCH_LIMIT
    keys = {
        (r["dag_id"], r["run_id"], r["task_id"], int(r["map_index"]), int(r["try_number"]))
        for r in rows
    }
    counts = await queries.count_events(tx, EVENT_STUCK_REQUEUED, keys)
    decisions = []
    for r in rows:
        key = (r["dag_id"], r["run_id"], r["task_id"], int(r["map_index"]), int(r["try_number"]))
        t = _row(r, requeues=counts.get(key, 0))
        if is_stuck_in_queued(t, now=now, timeout=timeout):
            decisions.append(
                decide_stuck_in_queued(
                    t, now=now, timeout=timeout, max_requeues=limits.max_stuck_requeues
                )
            )
    return decisions


async def _trigger_timeouts(
    tx: Transaction, now: datetime, *, report: HousekeepingReport
) -> list[Decision]:
    rows = await queries.deferred_past_timeout(tx, now=now, limit=BATCH_LIMIT)
    report.more |= len(rows) >= BATCH_LIMIT
    candidates = [_row(r) for r in rows]
    return [decide_trigger_timeout(t, now=now) for t in candidates if trigger_timed_out(t, now=now)]


async def housekeeping_once(
    db: Database,
    *,
    now: datetime,
    limits: HousekeepingLimits,
    job_id: int | None,
    since_recovery: float | None = None,
) -> HousekeepingReport:
    """One pass of every rule, each in its own transaction; what changed.

    `job_id` is this scheduler's job: it is never declared dead, and only task instances it
    queued are checked for being zombies or stuck in queued (a live scheduler checks its
    own; a dead one's are orphans, reset rather than failed). None checks every task.
    `since_recovery` is the seconds the database has been reachable since its latest outage
    (`Reachability.seconds_since_recovery`): until the timeouts have passed again, silence
    is not judged (`silence_is_evidence`).
    """
    report = HousekeepingReport()
    beats = silence_is_evidence(since_recovery, limits.heartbeat_timeout)
    queued = silence_is_evidence(since_recovery, limits.task_queued_timeout)
    rules: list[Rule] = [
        partial(_orphans, limits=limits, job_id=job_id, report=report, judge_silence=beats),
        partial(_zombies, limits=limits, job_id=job_id, report=report, judge_silence=beats),
        partial(
            _stuck_in_queued, limits=limits, job_id=job_id, report=report, judge_silence=queued
        ),
        partial(_trigger_timeouts, report=report),
    ]
    for rule in rules:

        async def body(tx: Transaction, rule: Rule = rule) -> list[Decision]:
            decisions = await rule(tx, now)
            await _apply(tx, decisions, now)
            return decisions

        decisions = await db.run(body)
        for d in decisions:
            log.warning(
                "%s: %s.%s run %s map %d try %d -> %s: %s",
                d.event,
                d.ti.dag_id,
                d.ti.task_id,
                d.ti.run_id,
                d.ti.map_index,
                d.ti.try_number,
                d.new_state,
                d.reason,
            )
        report.decisions.extend(decisions)
    if report.dead_jobs:
        log.warning("scheduler jobs %s stopped heartbeating: marked failed", report.dead_jobs)
    return report


def wake_for(report: HousekeepingReport, wakeups: StageWakeups, deps: StageDeps) -> None:
    """Wake the stages that continue from the states housekeeping wrote."""
    if not report.decisions:
        return
    wakeups.mark_dirty({d.ti.run_pk for d in report.decisions})
    deps.progressed({d.ti.run_pk for d in report.decisions})
    if any(d.new_state == TI.SCHEDULED for d in report.decisions):
        wakeups.enqueue.set()
    # A failed or reset task instance frees a pool slot and a concurrency slot.
    wakeups.enqueue.set()


async def terminate_in_executors(
    decisions: Sequence[Decision], executors: Sequence[Executor]
) -> None:
    """Ask the executors to stop what they may still run for the decided tries (each
    executor ignores the tries it does not hold)."""
    for d in decisions:
        if not d.terminate:
            continue
        for executor in executors:
            with anyio.move_on_after(TERMINATE_GRACE):
                try:
                    await executor.terminate(d.ti.id, reason=d.reason)
                except Exception:  # one executor's trouble must not stop housekeeping
                    log.exception("could not ask executor %s to stop %s", executor.name, d.ti.id)


async def serve_housekeeping(
    deps: StageDeps,
    wakeups: StageWakeups,
    *,
    limits: HousekeepingLimits = HousekeepingLimits(),  # noqa: B008 (frozen, immutable)
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run housekeeping passes until cancelled: at start, on its timer and when woken.

    `deps` is the scheduler's `StageDeps` (its `db`, `job_id`, `now()`, `deps.executors`).
    """
    task_status.started()
    db = deps.db
    while True:
        report = await housekeeping_once(
            db,
            now=deps.now(),
            limits=limits,
            job_id=deps.job_id,
            since_recovery=db.reachability.seconds_since_recovery(anyio.current_time()),
        )
        wake_for(report, wakeups, deps)
        await terminate_in_executors(report.decisions, deps.deps.executors)
        if report.more:
            await anyio.lowlevel.checkpoint()
            continue
        await wakeups.housekeeping.wait(limits.interval)


def housekeeping_stage(settings: SchedulerSettings) -> Callable[..., Awaitable[None]]:
    """`serve_housekeeping` bound to the limits in `settings`, for `SchedulerDeps.extra_stages`."""
    return partial(serve_housekeeping, limits=limits_from_settings(settings))
