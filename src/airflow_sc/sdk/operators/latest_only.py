"""`LatestOnlyOperator`: let downstream tasks run only in the most recent scheduled run.

In a scheduled run whose next run is already due (a backfill or a catchup run), every
direct downstream task is skipped. Manual runs and runs of unscheduled DAGs always continue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.skipping import SkipDecision, skip_all_decision
from airflow_sc.sdk.timetables import DataInterval, TimeRestriction

__all__ = ["LatestOnlyOperator"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LatestOnlyOperator(BaseOperator):
    """Skip direct downstream tasks unless this run is the latest scheduled one."""

    ui_color: ClassVar[str] = "#e9ffdb"

    def __init__(self, *, clock: Callable[[], dt.datetime] = _utcnow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock

    def _window(self, run: Any) -> tuple[dt.datetime, dt.datetime] | None:
        """(end of this run's interval, when the next run is due), or None if no next run."""
        timetable = self.dag.timetable
        start = getattr(run, "data_interval_start", None)
        end = getattr(run, "data_interval_end", None)
        if start is not None and end is not None:
            current = DataInterval(start, end)
        else:
            run_after = getattr(run, "logical_date", None) or run.run_after
            current = timetable.infer_manual_data_interval(run_after=run_after)
        following = timetable.next_dagrun_info(
            last_automated_data_interval=current,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
        )
        if following is None:
            return None
        return current.end, following.run_after

    def execute(self, context: Mapping[str, Any]) -> SkipDecision:
        run = context["dag_run"]
        follow_all = SkipDecision(None, frozenset(), frozenset(self.downstream_task_ids))
        if getattr(run, "run_type", "manual") == "manual":
            self.log.info("Manually triggered run: not skipping downstream tasks")
            return follow_all
        window = self._window(run)
        if window is None:
            self.log.info("No next run is scheduled: this is the latest run")
            return follow_all
        left, right = window
        now = self._clock()
        if left < now <= right:
            self.log.info("Latest run (now %s is within %s .. %s)", now, left, right)
            return follow_all
        self.log.info("Not the latest run (now %s is outside %s .. %s): skipping", now, left, right)
        return skip_all_decision(self)
