"""DAG run completion: from its task instances' states to the run's state.

Airflow 3's ``DagRun.update_state``, without the I/O. The schedule_tis stage, after writing
the pass's task instance decisions, passes every task instance of the run (task instances of
tasks no longer in the DAG left out) and calls `decide_run_state`:

1. nothing unfinished and some leaf failed or upstream_failed -> FAILED (``task_failure``);
2. nothing unfinished and every leaf succeeded or skipped -> SUCCESS (``success``);
3. unfinished task instances exist but none of them can ever progress -> FAILED
   (``all_tasks_deadlocked``); see `RunTaskInstance.can_progress` for the exemptions;
4. otherwise RUNNING.

Leaves are the run's "effective" leaves (`effective_leaves`): teardown tasks do not decide
the outcome unless they set ``on_failure_fail_dagrun``; removed task instances never do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from airflow_sc.domain.states import (
    FAILED_STATES,
    SUCCESS_STATES,
    UNFINISHED,
    DagRunState,
    TaskInstanceState,
    TIState,
)

__all__ = [
    "RunOutcome",
    "RunStateDecision",
    "RunTaskInstance",
    "dagrun_timed_out",
    "decide_run_state",
    "effective_leaves",
]


@dataclass(frozen=True, slots=True)
class RunTaskInstance:
    """One task instance of the run, as the completion check sees it.

    ``can_progress`` matters only for an unfinished instance: True when its dependencies are
    met ignoring retry / reschedule waits (`readiness.decide_readiness` with ``now=None``
    gives RUN), or when it is already past scheduling (queued, running...).
    ``exempt_from_deadlock``: its task has ``depends_on_past`` or a ``max_active_tis_per_dag``
    / ``max_active_tis_per_dagrun`` cap; Airflow never declares a run with such an
    unfinished task instance deadlocked, since another run may unblock it.
    """

    task_id: str
    state: TIState
    is_leaf: bool = False
    can_progress: bool = True
    exempt_from_deadlock: bool = False


class RunOutcome(StrEnum):
    TASK_FAILURE = "task_failure"
    SUCCESS = "success"
    ALL_TASKS_DEADLOCKED = "all_tasks_deadlocked"


@dataclass(frozen=True, slots=True)
class RunStateDecision:
    state: DagRunState
    outcome: RunOutcome | None = None
    """Why the run finished (for callbacks and logs); None while it runs."""

    @property
    def finished(self) -> bool:
        return self.outcome is not None


_RUNNING = RunStateDecision(DagRunState.RUNNING)


def decide_run_state(
    tis: Iterable[RunTaskInstance], *, progressed: bool = False
) -> RunStateDecision:
    """The run's state after this pass.

    ``progressed``: this pass scheduled or changed some task instance of the run; Airflow
    then waits for the next pass before calling the run deadlocked.
    """
    listed = list(tis)
    unfinished = [ti for ti in listed if ti.state in UNFINISHED]
    leaves = [ti for ti in listed if ti.is_leaf and ti.state is not TaskInstanceState.REMOVED]
    if not unfinished:
        if any(ti.state in FAILED_STATES for ti in leaves):
            return RunStateDecision(DagRunState.FAILED, RunOutcome.TASK_FAILURE)
        if all(ti.state in SUCCESS_STATES for ti in leaves):
            return RunStateDecision(DagRunState.SUCCESS, RunOutcome.SUCCESS)
        return _RUNNING  # unreachable with finished leaves; kept as Airflow's fallthrough
    deadlock_possible = not progressed and all(
        not ti.exempt_from_deadlock and ti.state is not TaskInstanceState.DEFERRED
        for ti in unfinished
    )
    if deadlock_possible and not any(ti.can_progress for ti in unfinished):
        return RunStateDecision(DagRunState.FAILED, RunOutcome.ALL_TASKS_DEADLOCKED)
    return _RUNNING


def effective_leaves(
    downstream: Mapping[str, Collection[str]],
    *,
    teardowns: Collection[str] = (),
    fail_dagrun_teardowns: Collection[str] = (),
) -> frozenset[str]:
    """Task ids whose instances decide the run's outcome.

    ``downstream`` maps every task id of the DAG to its direct downstreams. A teardown task
    is ignorable unless it is in ``fail_dagrun_teardowns`` (``on_failure_fail_dagrun``); a
    leaf is a non-ignorable task whose downstreams are all ignorable. A DAG made only of
    teardowns falls back to the tasks without downstreams.
    """

    def ignorable(task_id: str) -> bool:
        return task_id in teardowns and task_id not in fail_dagrun_teardowns

    leaves = frozenset(
        task_id
        for task_id, below in downstream.items()
        if not ignorable(task_id) and all(ignorable(d) for d in below)
    )
    return leaves or frozenset(task_id for task_id, below in downstream.items() if not below)


def dagrun_timed_out(
    *, start_date: datetime | None, dagrun_timeout: timedelta | None, now: datetime
) -> bool:
    """Has a running DAG run exceeded its DAG's ``dagrun_timeout``? (Strictly longer.)

    The caller then fails the run and moves its unfinished task instances to skipped.
    """
    if start_date is None or not dagrun_timeout:
        return False
    return start_date < now - dagrun_timeout
