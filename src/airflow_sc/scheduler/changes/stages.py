"""Which scheduler stages a note wakes: the scheduler's subscription to its `ChangeFeed`."""

from __future__ import annotations

from airflow_sc.scheduler.changes.feed import Listener
from airflow_sc.scheduler.changes.notes import Change, Note
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = ["stage_subscriber", "wake_stages"]


def wake_stages(note: Note, wakeups: StageWakeups) -> None:
    """Wake the stages that continue from `note`'s changes (only those).

    - a DAG changed: create_runs, start_runs, schedule_tis (a sweep), enqueue;
    - runs were created: start_runs;
    - an operator changed runs: schedule_tis for those runs, start_runs (a cleared run is
      queued again), enqueue (freed slots);
    - tries finished: schedule_tis for their runs, enqueue (freed slots);
    - the scheduler's own progress: nothing (the stage that moved on woke the next one);
    - notes were lost: every stage.
    """
    changes = note.changes
    if Change.ANY in changes:
        wakeups.wake_all()
        return
    if Change.DAG_CHANGED in changes:
        wakeups.create_runs.set()
        wakeups.start_runs.set()
        wakeups.schedule_tis.set()
        wakeups.enqueue.set()
    if Change.RUNS_CREATED in changes or Change.RUNS_CHANGED in changes:
        wakeups.start_runs.set()
    if Change.RUNS_CHANGED in changes or Change.TIS_FINISHED in changes:
        if note.run_pks is None:
            wakeups.schedule_tis.set()  # woken with nothing dirty: a full sweep
        elif note.run_pks:
            wakeups.mark_dirty(set(note.run_pks))
        wakeups.enqueue.set()


def stage_subscriber(wakeups: StageWakeups) -> Listener:
    """A `ChangeFeed` listener waking `wakeups` (what a running scheduler subscribes)."""

    def listener(note: Note) -> None:
        wake_stages(note, wakeups)

    return listener
