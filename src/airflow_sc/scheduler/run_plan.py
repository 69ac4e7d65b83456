"""What one schedule_tis pass decides for one DAG run, as a pure function.

`plan_run` walks the run's tasks in topological order, so a decision made for an upstream
(an EmptyOperator marked success, a skip, an upstream_failed) is seen by its downstreams in
the same pass: a chain of empty or skipped tasks settles in one transaction. The policy
functions decide each task instance; this module only strings them together, and checks
every move it plans against the transition table (actor ``scheduler``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_sc.domain import SCHEDULABLE, UNFINISHED, DagRunState, TaskInstanceState, TIState
from airflow_sc.domain.fail_fast import fail_fast_triggered, stop_remaining
from airflow_sc.domain.retries import next_retry_at, retry_jitter_hash
from airflow_sc.domain.transitions import Actor, check_dag_run_transition, check_ti_transition
from airflow_sc.scheduler.policy import (
    Decision,
    PastSnapshot,
    Readiness,
    RunOutcome,
    RunStateDecision,
    RunTaskInstance,
    UpstreamSummary,
    dagrun_timed_out,
    decide_readiness,
    decide_run_state,
    past_depends_met,
)
from airflow_sc.serialization.spec import DagSpec, TaskSpec

__all__ = ["PlannedInstance", "RunPlan", "plan_run", "retry_time", "topological_order"]

TI = TaskInstanceState
_DECISION_STATE = {
    Decision.SKIP: TI.SKIPPED,
    Decision.UPSTREAM_FAILED: TI.UPSTREAM_FAILED,
    Decision.REMOVED: TI.REMOVED,
}


@dataclass(frozen=True, slots=True)
class PlannedInstance:
    """A task instance as the plan reads it."""

    id: str
    task_id: str
    state: TIState
    try_number: int = 0
    end_date: datetime | None = None
    #: The delay (seconds) the failed try's retry policy chose; None: the task's rule.
    retry_delay: float | None = None


@dataclass
class RunPlan:
    #: New state -> ids of the task instances that move to it.
    moves: dict[TaskInstanceState, list[str]] = field(default_factory=dict)
    #: The run's new state when it finishes in this pass.
    finished: RunStateDecision | None = None
    timed_out: bool = False
    #: A task failed in a ``fail_fast`` DAG: the rest of the run was stopped.
    stopped_fast: bool = False
    #: Task instances that were queued or running when the run timed out or was stopped.
    interrupted: list[str] = field(default_factory=list)
    #: Earliest time a waiting retry becomes ready (the stage wakes itself then).
    next_due: datetime | None = None

    @property
    def changed(self) -> bool:
        return bool(self.moves) or self.finished is not None


def topological_order(spec: DagSpec) -> list[str]:
    """Task ids, every upstream before its downstreams (ties by task id)."""
    pending = {t: len(ups) for t, ups in spec.upstream_task_ids.items()}
    ready = sorted(t for t, n in pending.items() if n == 0)
    order: list[str] = []
    while ready:
        task_id = ready.pop(0)
        order.append(task_id)
        for child in sorted(spec.tasks[task_id].downstream_task_ids):
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order


def retry_time(
    task: TaskSpec, dag_id: str, logical_date: datetime | None, ti: PlannedInstance
) -> datetime | None:
    """When an up_for_retry instance may run again (ready strictly after this).

    A delay the failed try's retry policy chose replaces the task's rule (retry_delay,
    backoff and max_retry_delay).
    """
    if ti.end_date is None:
        return None
    if ti.retry_delay is not None:
        return ti.end_date + timedelta(seconds=ti.retry_delay)
    return next_retry_at(
        try_number=max(ti.try_number, 1),
        retry_delay=task.retry_delay,
        retry_exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=task.max_retry_delay,
        end_date=ti.end_date,
        ti_key_hash=retry_jitter_hash(dag_id, task.task_id, logical_date, ti.try_number),
    )


def plan_run(
    spec: DagSpec,
    tis: Sequence[PlannedInstance],
    *,
    now: datetime,
    start_date: datetime | None,
    logical_date: datetime | None,
    past: Mapping[str, PastSnapshot] | None = None,
) -> RunPlan:
    """Decide the run's task instances and, from the result, the run's state."""
    plan = RunPlan()
    by_task = {ti.task_id: ti for ti in tis if ti.task_id in spec.tasks}
    if dagrun_timed_out(start_date=start_date, dagrun_timeout=spec.dagrun_timeout, now=now):
        return _timed_out(plan, by_task)
    states: dict[str, TIState] = {t: ti.state for t, ti in by_task.items()}
    if spec.fail_fast and fail_fast_triggered(states):
        return _stopped_fast(plan, by_task)
    readiness: dict[str, Readiness] = {}
    for task_id in topological_order(spec):
        ti = by_task.get(task_id)
        if ti is None or ti.state not in SCHEDULABLE:
            continue
        task = spec.tasks[task_id]
        ups = spec.upstream_task_ids[task_id]
        snapshot = (past or {}).get(task_id)
        retry_at = (
            retry_time(task, spec.dag_id, logical_date, ti) if ti.state is TI.UP_FOR_RETRY else None
        )
        ready = Readiness(
            trigger_rule=task.trigger_rule,
            upstream=UpstreamSummary.from_states(states.get(u) for u in ups),
            past_depends_met=snapshot is None or past_depends_met(snapshot),
            wait_for_past_depends_before_skipping=False,
            next_retry_at=retry_at,
        )
        decision = decide_readiness(ready, now=now)
        new_state: TIState
        if decision is Decision.RUN:
            new_state = TI.SUCCESS if task.is_empty else TI.SCHEDULED
        elif decision is Decision.WAIT:
            readiness[task_id] = ready
            if retry_at is not None and retry_at >= now:
                plan.next_due = retry_at if plan.next_due is None else min(plan.next_due, retry_at)
            continue
        else:
            new_state = _DECISION_STATE[decision]
        check_ti_transition(ti.state, new_state, actor=Actor.SCHEDULER)
        states[task_id] = new_state
        plan.moves.setdefault(new_state, []).append(ti.id)
    plan.finished = _run_state(spec, states, readiness, progressed=bool(plan.moves))
    if plan.finished is not None:
        check_dag_run_transition(DagRunState.RUNNING, plan.finished.state, actor=Actor.SCHEDULER)
    return plan


def _timed_out(plan: RunPlan, by_task: Mapping[str, PlannedInstance]) -> RunPlan:
    plan.timed_out = True
    unfinished = [ti for ti in by_task.values() if ti.state in UNFINISHED]
    for ti in unfinished:
        check_ti_transition(ti.state, TI.SKIPPED, actor=Actor.SCHEDULER)
    if unfinished:
        plan.moves[TI.SKIPPED] = [ti.id for ti in unfinished]
    plan.interrupted = [ti.id for ti in unfinished if ti.state in (TI.QUEUED, TI.RUNNING)]
    plan.finished = RunStateDecision(DagRunState.FAILED, None)
    return plan


def _stopped_fast(plan: RunPlan, by_task: Mapping[str, PlannedInstance]) -> RunPlan:
    """fail_fast: stop what is left of the run and fail it (`domain.fail_fast`)."""
    plan.stopped_fast = True
    by_id = {ti.id: ti for ti in by_task.values()}
    moves = stop_remaining({ti.id: ti.state for ti in by_task.values()})
    for new_state, ids in moves.items():
        for ti_id in ids:
            check_ti_transition(by_id[ti_id].state, new_state, actor=Actor.SCHEDULER)
    plan.moves.update(moves)
    plan.interrupted = [ti.id for ti in by_task.values() if ti.state in (TI.QUEUED, TI.RUNNING)]
    plan.finished = RunStateDecision(DagRunState.FAILED, RunOutcome.TASK_FAILURE)
    check_dag_run_transition(DagRunState.RUNNING, DagRunState.FAILED, actor=Actor.SCHEDULER)
    return plan


def _run_state(
    spec: DagSpec,
    states: Mapping[str, TIState],
    waiting: Mapping[str, Readiness],
    *,
    progressed: bool,
) -> RunStateDecision | None:
    leaves = spec.leaves
    instances = []
    for task_id, state in states.items():
        task = spec.tasks[task_id]
        can_progress = True
        if task_id in waiting:
            can_progress = decide_readiness(waiting[task_id], now=None) is Decision.RUN
        instances.append(
            RunTaskInstance(
                task_id=task_id,
                state=state,
                is_leaf=task_id in leaves,
                can_progress=can_progress,
                exempt_from_deadlock=task.depends_on_past
                or task.max_active_tis_per_dag is not None
                or task.max_active_tis_per_dagrun is not None,
            )
        )
    decision = decide_run_state(instances, progressed=progressed)
    return decision if decision.finished else None
