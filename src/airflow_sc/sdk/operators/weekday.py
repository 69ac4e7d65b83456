"""`BranchDayOfWeekOperator`: follow one branch on chosen days of the week, another otherwise.

The day is today's in the DAG's timezone, or, with ``use_task_logical_date``, the day of the
run's logical date (the time the run was due when it has none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from airflow_sc.sdk.operators.branch import BaseBranchOperator
from airflow_sc.sdk.weekday import WeekDay

__all__ = ["BranchDayOfWeekOperator"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follow `follow_task_ids_if_true` on the days of `week_day`, else the other ids."""

    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str] | Iterable[WeekDay],
        use_task_logical_date: bool = False,
        clock: Callable[[], dt.datetime] = _utcnow,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except (AttributeError, TypeError) as exc:
            raise self._error(str(exc)) from None
        self._clock = clock

    def choose_branch(self, context: Mapping[str, Any]) -> str | Iterable[str]:
        if self.use_task_logical_date:
            now = context.get("logical_date") or context["dag_run"].run_after
        else:
            now = self._clock()
        day = now.astimezone(ZoneInfo(self.dag.timezone)).isoweekday()
        if day in self._week_day_num:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false
