"""`BranchDateTimeOperator`: follow one branch inside a time window and another outside it.

The current time (or, with ``use_task_logical_date``, the run's logical date, or when it has
none the time the run was due) is compared with `target_lower` / `target_upper` in the DAG's
timezone. A `datetime.time` target is taken on the day being compared; when the upper time
is earlier than the lower one the window ends on the next day. Bounds are inclusive; a
missing bound is open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from airflow_sc.sdk.operators.branch import BaseBranchOperator

__all__ = ["BranchDateTimeOperator", "target_times_as_dates"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def target_times_as_dates(
    base_date: dt.datetime,
    lower: dt.datetime | dt.time | None,
    upper: dt.datetime | dt.time | None,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The targets as datetimes on `base_date`'s day (naive, like `base_date`)."""
    if isinstance(lower, dt.time):
        lower = dt.datetime.combine(base_date.date(), lower)
    if isinstance(upper, dt.time):
        upper = dt.datetime.combine(base_date.date(), upper)
    if lower is not None and upper is not None and upper < lower:
        upper += dt.timedelta(days=1)
    return lower, upper


class BranchDateTimeOperator(BaseBranchOperator):
    """Follow `follow_task_ids_if_true` inside the window, `follow_task_ids_if_false` outside."""

    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: dt.datetime | dt.time | None = None,
        target_upper: dt.datetime | dt.time | None = None,
        use_task_logical_date: bool = False,
        clock: Callable[[], dt.datetime] = _utcnow,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise self._error(
                "Both target_upper and target_lower are None. At least one must be defined "
                "to be compared to the current datetime"
            )
        for name, value in (("target_lower", target_lower), ("target_upper", target_upper)):
            if value is not None and not isinstance(value, dt.datetime | dt.time):
                raise self._error(f"{name} must be a datetime, a time or None, got {value!r}")
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.use_task_logical_date = use_task_logical_date
        self._clock = clock

    def _now(self, context: Mapping[str, Any]) -> dt.datetime:
        if not self.use_task_logical_date:
            return self._clock()
        logical_date = context.get("logical_date")
        if logical_date is not None:
            return logical_date  # type: ignore[no-any-return]
        return context["dag_run"].run_after  # type: ignore[no-any-return]

    def choose_branch(self, context: Mapping[str, Any]) -> str | Iterable[str]:
        zone = ZoneInfo(self.dag.timezone)
        now = self._now(context).astimezone(zone).replace(tzinfo=None)
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        lower, upper = (_naive_in(lower, zone), _naive_in(upper, zone))
        inside = (lower is None or lower <= now) and (upper is None or now <= upper)
        return self.follow_task_ids_if_true if inside else self.follow_task_ids_if_false


def _naive_in(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(zone).replace(tzinfo=None)
