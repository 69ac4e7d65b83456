"""A DAG's ``fail_fast`` and ``max_consecutive_failed_dag_runs``, as pure rules.

``fail_fast``: once a task instance of the run has failed for good (``failed``: no retry
left; a try that will be retried does not count), Airflow stops the rest of the run: task
instances still running are failed, every other unfinished one is skipped, and those that
already finished keep their state. airflow-sc has no setup / teardown tasks, so there is no
teardown to spare. The scheduler applies `stop_remaining` (the stops are its transitions)
and fails the run.

``max_consecutive_failed_dag_runs``: when a DAG's newest runs, that many of them, all
failed, the DAG is paused (Airflow's auto-pause; 0 turns it off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from airflow_sc.domain.states import UNFINISHED, DagRunState, TaskInstanceState, TIState

__all__ = ["fail_fast_triggered", "should_pause", "stop_remaining"]

_TI = TaskInstanceState


def fail_fast_triggered(states: Mapping[str, TIState]) -> bool:
    """Whether a task instance of the run has failed for good."""
    return any(state is _TI.FAILED for state in states.values())


def stop_remaining(states: Mapping[str, TIState]) -> dict[TaskInstanceState, list[str]]:
    """What stopping the run writes: new state -> the ids (of `states`' keys) moving to it.

    Running -> failed; any other unfinished state -> skipped; finished ones stay.
    """
    moves: dict[TaskInstanceState, list[str]] = {}
    for ti_id, state in states.items():
        if state not in UNFINISHED:
            continue
        new = _TI.FAILED if state is _TI.RUNNING else _TI.SKIPPED
        moves.setdefault(new, []).append(ti_id)
    return moves


def should_pause(limit: int, newest_run_states: Sequence[str | None]) -> bool:
    """Whether to pause a DAG whose newest runs (newest first, at most `limit` of them)
    ended in `newest_run_states`: all `limit` of them failed. `limit` 0 never pauses."""
    if limit <= 0 or len(newest_run_states) < limit:
        return False
    return all(state == DagRunState.FAILED.value for state in newest_run_states[:limit])
