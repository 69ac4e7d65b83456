"""Task instance and DAG run states, and the groups of states the scheduler reasons about.

A task instance that has no state yet ("none" in Airflow's UI) is stored as SQL NULL and is
Python ``None`` everywhere in airflow-sc, exactly like Airflow. ``TIState`` is the type of a
state column value: a member of ``TaskInstanceState`` or ``None``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE",
    "DAG_RUN_FINISHED",
    "DAG_RUN_UNFINISHED",
    "EXECUTION_STATES",
    "FAILED_STATES",
    "FINISHED",
    "SCHEDULABLE",
    "SUCCESS_STATES",
    "UNFINISHED",
    "DagRunState",
    "TIState",
    "TaskInstanceState",
    "is_finished",
]


class TaskInstanceState(StrEnum):
    """States a task instance can be in once it has one (``None`` means "no state yet")."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"
    DEFERRED = "deferred"
    RESTARTING = "restarting"


class DagRunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


TIState = TaskInstanceState | None

_TI = TaskInstanceState

# A finished task instance will not change again unless a user clears or marks it.
FINISHED: frozenset[TIState] = frozenset(
    {_TI.SUCCESS, _TI.FAILED, _TI.SKIPPED, _TI.UPSTREAM_FAILED, _TI.REMOVED}
)

# Everything else, including "no state yet". Together with FINISHED this covers every value.
UNFINISHED: frozenset[TIState] = frozenset(
    {
        None,
        _TI.SCHEDULED,
        _TI.QUEUED,
        _TI.RUNNING,
        _TI.UP_FOR_RETRY,
        _TI.UP_FOR_RESCHEDULE,
        _TI.DEFERRED,
        _TI.RESTARTING,
    }
)

# The states the schedule_tis stage evaluates trigger rules for.
SCHEDULABLE: frozenset[TIState] = frozenset({None, _TI.UP_FOR_RETRY, _TI.UP_FOR_RESCHEDULE})

# Task instances that hold a concurrency slot (parallelism, max_active_tasks, per-task caps).
EXECUTION_STATES: frozenset[TIState] = frozenset({_TI.QUEUED, _TI.RUNNING})

# Task instances that own an executor, a worker or a trigger right now.
ACTIVE: frozenset[TIState] = frozenset(
    {_TI.SCHEDULED, _TI.QUEUED, _TI.RUNNING, _TI.DEFERRED, _TI.RESTARTING}
)

# How a finished leaf counts towards the run's outcome.
SUCCESS_STATES: frozenset[TIState] = frozenset({_TI.SUCCESS, _TI.SKIPPED})
FAILED_STATES: frozenset[TIState] = frozenset({_TI.FAILED, _TI.UPSTREAM_FAILED})

DAG_RUN_FINISHED: frozenset[DagRunState] = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
DAG_RUN_UNFINISHED: frozenset[DagRunState] = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})


def is_finished(state: TIState) -> bool:
    return state in FINISHED
