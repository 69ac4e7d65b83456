"""``depends_on_past`` / ``wait_for_downstream``: may this run's task instance go yet?

The schedule_tis stage loads, for a task with ``depends_on_past``, what it needs to know
about the same task in the previous DAG run (the previous run by logical date; for a DAG
with catchup, the previous non-manual run) and calls `past_depends_met`. Airflow 3 semantics:
the first run of a DAG, or a previous run from before the task's ``start_date``, never
blocks; a previous run without this task blocks unless ``ignore_first_depends_on_past`` and
the task has never run before; any previous instance not in success/skipped blocks; with
``wait_for_downstream`` so does any unsuccessful direct downstream of it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PastSnapshot", "past_depends_met"]


@dataclass(frozen=True, slots=True)
class PastSnapshot:
    """The task's past-dependency flags and what the previous DAG run says.

    ``previous_run_exists``: there is a previous run to depend on (False: first run, or the
    previous run predates the task's ``start_date``). ``previous_run_has_task``: that run has
    instances of this task. ``previous_unsuccessful``: how many of them are not success or
    skipped (unfinished ones count). ``previous_downstream_unsuccessful``: some direct
    downstream instance in that run is not success or skipped. ``any_prior_instance``: this
    task has an instance in any earlier run.
    """

    depends_on_past: bool = False
    wait_for_downstream: bool = False
    ignore_first_depends_on_past: bool = False
    previous_run_exists: bool = False
    previous_run_has_task: bool = False
    previous_unsuccessful: int = 0
    previous_downstream_unsuccessful: bool = False
    any_prior_instance: bool = False


def past_depends_met(past: PastSnapshot) -> bool:
    """True when the past does not hold this task instance back."""
    # wait_for_downstream implies depends_on_past (the SDK sets both), so one flag gates.
    if not (past.depends_on_past or past.wait_for_downstream):
        return True
    if not past.previous_run_exists:
        return True
    if not past.previous_run_has_task:
        return past.ignore_first_depends_on_past and not past.any_prior_instance
    if past.previous_unsuccessful > 0:
        return False
    return not (past.wait_for_downstream and past.previous_downstream_unsuccessful)
