"""Range filters shared by the DAG run, task instance and XCom listings.

Airflow spells a range on `x` as up to four fields, `x_gte`, `x_gt`, `x_lte`, `x_lt`, in
a query string or a batch body alike. The mixins below declare them once; `run_ranges`
gathers them into the `Range`s the query modules' filters take.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel

from airflow_sc.domain.listing import Range

__all__ = [
    "RunRangeFilters",
    "UpdatedAtFilter",
    "UtcDatetime",
    "datetime_range",
    "number_range",
    "run_ranges",
]


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


#: A datetime from a client; one without a timezone is taken as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class RunRangeFilters(BaseModel):
    """Bounds on a run's dates and a run's (or task instance's) duration in seconds."""

    run_after_gte: UtcDatetime | None = None
    run_after_gt: UtcDatetime | None = None
    run_after_lte: UtcDatetime | None = None
    run_after_lt: UtcDatetime | None = None
    logical_date_gte: UtcDatetime | None = None
    logical_date_gt: UtcDatetime | None = None
    logical_date_lte: UtcDatetime | None = None
    logical_date_lt: UtcDatetime | None = None
    start_date_gte: UtcDatetime | None = None
    start_date_gt: UtcDatetime | None = None
    start_date_lte: UtcDatetime | None = None
    start_date_lt: UtcDatetime | None = None
    end_date_gte: UtcDatetime | None = None
    end_date_gt: UtcDatetime | None = None
    end_date_lte: UtcDatetime | None = None
    end_date_lt: UtcDatetime | None = None
    duration_gte: float | None = None
    duration_gt: float | None = None
    duration_lte: float | None = None
    duration_lt: float | None = None


class UpdatedAtFilter(BaseModel):
    """Bounds on when a row last changed."""

    updated_at_gte: UtcDatetime | None = None
    updated_at_gt: UtcDatetime | None = None
    updated_at_lte: UtcDatetime | None = None
    updated_at_lt: UtcDatetime | None = None


def _bounds(source: BaseModel, name: str) -> dict[str, Any]:
    return {bound: getattr(source, f"{name}_{bound}", None) for bound in ("gte", "gt", "lte", "lt")}


def datetime_range(source: BaseModel, name: str) -> Range[datetime]:
    """The `<name>_gte/_gt/_lte/_lt` bounds a query or body holds."""
    return Range(**_bounds(source, name))


def number_range(source: BaseModel, name: str) -> Range[float]:
    """The `<name>_gte/_gt/_lte/_lt` bounds a query or body holds."""
    return Range(**_bounds(source, name))


def run_ranges(source: RunRangeFilters) -> dict[str, Any]:
    """The `RunRangeFilters` bounds (and `updated_at`'s, if `source` has them) as keyword
    arguments of `DagRunFilter` / `TaskInstanceFilter`."""
    ranges: dict[str, Any] = {
        name: datetime_range(source, name)
        for name in ("run_after", "logical_date", "start_date", "end_date")
    }
    ranges["duration"] = number_range(source, "duration")
    if isinstance(source, UpdatedAtFilter):
        ranges["updated_at"] = datetime_range(source, "updated_at")
    return ranges
