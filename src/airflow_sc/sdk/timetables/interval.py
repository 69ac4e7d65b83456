"""Data-interval timetables: each run covers one whole period and starts when it has ended.

This is Airflow 2's behaviour (``create_cron_data_intervals = True``): a daily run with
logical date Monday covers Monday and runs on Tuesday at midnight.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._cron import CronSchedule, timezone_name, validate_cron
from ._grid import DeltaGrid, Grid, parse_delta, serialize_delta
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable

__all__ = ["CronDataIntervalTimetable", "DeltaDataIntervalTimetable"]


class _DataIntervalTimetable(Timetable):
    periodic = True
    _grid: Grid

    def _latest_complete_start(self, now: dt.datetime) -> dt.datetime:
        """Start of the latest period that has fully ended by `now`."""
        raise NotImplementedError

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        grid = self._grid
        earliest = restriction.earliest
        if earliest is not None:
            earliest = grid.align_up(earliest)
        if not restriction.catchup:
            # Skip the periods missed while paused or before deployment.
            latest_complete = self._latest_complete_start(restriction.current_time())
            earliest = latest_complete if earliest is None else max(earliest, latest_complete)
        if last_automated_data_interval is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # Aligning copes with a schedule changed since the last run.
            start = grid.align_down(last_automated_data_interval.end)
            if earliest is not None:
                start = max(start, earliest)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, grid.next_after(start))


class CronDataIntervalTimetable(_DataIntervalTimetable):
    """Runs cover the periods between consecutive fire times of a cron expression."""

    type_name = "cron_data_interval"

    def __init__(self, cron: str, timezone: str | dt.tzinfo = "UTC") -> None:
        validate_cron(cron)
        self.expression = cron
        self.timezone = timezone_name(timezone)
        self._cron = CronSchedule(cron, self.timezone)
        self._grid = self._cron

    @property
    def summary(self) -> str:
        return self.expression

    @property
    def description(self) -> str:
        return self._cron.description

    def _latest_complete_start(self, now: dt.datetime) -> dt.datetime:
        return self._cron.prev_before(self._cron.align_down(now))

    def infer_manual_data_interval(self, *, run_after: dt.datetime) -> DataInterval:
        end = self._cron.align_down(run_after)
        return DataInterval(self._cron.prev_before(end), end)

    def serialize(self) -> dict[str, Any]:
        return {"expression": self.expression, "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(data["expression"], timezone=data.get("timezone", "UTC"))


class DeltaDataIntervalTimetable(_DataIntervalTimetable):
    """Runs cover consecutive periods of `delta` real time from the start date."""

    type_name = "delta_data_interval"

    def __init__(self, delta: dt.timedelta) -> None:
        self.delta = delta
        self._grid = DeltaGrid(delta)

    @property
    def summary(self) -> str:
        return str(self.delta)

    @property
    def description(self) -> str:
        return f"Every {self.delta}, each run covering the preceding {self.delta}"

    def _latest_complete_start(self, now: dt.datetime) -> dt.datetime:
        return now - self.delta

    def infer_manual_data_interval(self, *, run_after: dt.datetime) -> DataInterval:
        return DataInterval(run_after - self.delta, run_after)

    def serialize(self) -> dict[str, Any]:
        return {"delta": serialize_delta(self.delta)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(parse_delta(data["delta"]))
