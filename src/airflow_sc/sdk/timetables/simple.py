"""Timetables without a period: never (None), once (@once), back to back (@continuous)."""

from __future__ import annotations

from typing import Any

from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable

__all__ = ["ContinuousTimetable", "NullTimetable", "OnceTimetable"]


class NullTimetable(Timetable):
    """``schedule=None``: runs are only ever triggered by hand or by the API."""

    type_name = "null"
    can_be_scheduled = False

    @property
    def summary(self) -> str:
        return "None"

    @property
    def description(self) -> str:
        return "Never, external triggers only"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        return None

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls()


class OnceTimetable(Timetable):
    """``@once``: one run at the start date (or right away without one), catchup or not."""

    type_name = "once"

    @property
    def summary(self) -> str:
        return "@once"

    @property
    def description(self) -> str:
        return "Once, as soon as possible"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            return None
        run_after = restriction.earliest or restriction.current_time()
        if restriction.latest is not None and run_after > restriction.latest:
            return None
        return DagRunInfo.exact(run_after)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls()


class ContinuousTimetable(Timetable):
    """``@continuous``: a new run as soon as the previous one finishes (one active run at most).

    Each run covers the time since the previous run's interval ended.
    """

    type_name = "continuous"
    active_runs_limit = 1

    @property
    def summary(self) -> str:
        return "@continuous"

    @property
    def description(self) -> str:
        return "As frequently as possible, one run at a time"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        now = restriction.current_time()
        if restriction.latest is not None and restriction.latest < now:
            return None
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end
        else:
            start = restriction.earliest or now
        end = max(start, now)
        return DagRunInfo.interval(start, end)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls()
