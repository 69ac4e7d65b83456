"""Trigger timetables: a run at each fire time (Airflow 3's default for cron and deltas).

The run's data interval ends at the fire time and is `interval` long (empty by default), so
a daily job scheduled at midnight runs at midnight for "today", not the next day for
"yesterday" as the data-interval timetables do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._cron import CronSchedule, timezone_name, validate_cron
from ._grid import DeltaGrid, Grid, parse_delta, serialize_delta
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable

__all__ = ["CronTriggerTimetable", "DeltaTriggerTimetable"]

_MIN_BUFFER = dt.timedelta(minutes=5)


class _TriggerTimetable(Timetable):
    periodic = True
    _grid: Grid
    _interval: dt.timedelta

    def infer_manual_data_interval(self, *, run_after: dt.datetime) -> DataInterval:
        return DataInterval(run_after - self._interval, run_after)

    def _first_run(self, now: dt.datetime) -> dt.datetime:
        """Without a start date: the latest fire time if it was very recent, else the next."""
        return self._grid.align_up(now)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        grid = self._grid
        earliest = restriction.earliest
        if restriction.catchup:
            if last_automated_data_interval is not None:
                fire = grid.next_after(last_automated_data_interval.end)
            elif earliest is None:
                fire = self._first_run(restriction.current_time())
            else:
                fire = grid.align_up(earliest)
        else:
            # Without catchup, missed fire times collapse into the latest one.
            now = restriction.current_time()
            candidates = [grid.align_down(now)]
            if last_automated_data_interval is not None:
                candidates.append(grid.next_after(last_automated_data_interval.end))
            elif earliest is None:
                candidates.append(self._first_run(now))
            if earliest is not None:
                candidates.append(grid.align_up(earliest))
            fire = max(candidates)
        if restriction.latest is not None and fire > restriction.latest:
            return None
        return DagRunInfo.interval(fire - self._interval, fire)


class CronTriggerTimetable(_TriggerTimetable):
    """A run at each fire time of a cron expression in `timezone`.

    `run_immediately` matters only without a start date: ``True`` runs the latest past fire
    time at once, a timedelta does so if it was at most that long ago, otherwise (the
    default) it does so if it was within a tenth of the period (at least five minutes).
    """

    type_name = "cron_trigger"

    def __init__(
        self,
        cron: str,
        *,
        timezone: str | dt.tzinfo = "UTC",
        interval: dt.timedelta = dt.timedelta(0),
        run_immediately: bool | dt.timedelta = False,
    ) -> None:
        validate_cron(cron)
        if interval < dt.timedelta(0):
            raise ValueError(f"interval must not be negative, got {interval!r}")
        self.expression = cron
        self.timezone = timezone_name(timezone)
        self._interval = interval
        self.run_immediately = run_immediately
        self._cron = CronSchedule(cron, self.timezone)
        self._grid = self._cron

    @property
    def summary(self) -> str:
        return self.expression

    @property
    def description(self) -> str:
        return self._cron.description

    def _first_run(self, now: dt.datetime) -> dt.datetime:
        past = self._grid.align_down(now)
        if self.run_immediately is True:
            return past
        upcoming = self._grid.align_up(now)
        if isinstance(self.run_immediately, dt.timedelta):
            buffer = self.run_immediately
        else:
            buffer = max((upcoming - past) / 10, _MIN_BUFFER)
        return past if now - past <= buffer else upcoming

    def serialize(self) -> dict[str, Any]:
        run_immediately: bool | float = (
            self.run_immediately
            if isinstance(self.run_immediately, bool)
            else serialize_delta(self.run_immediately)
        )
        return {
            "expression": self.expression,
            "timezone": self.timezone,
            "interval": serialize_delta(self._interval),
            "run_immediately": run_immediately,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        raw = data.get("run_immediately", False)
        run_immediately = raw if isinstance(raw, bool) else parse_delta(raw)
        return cls(
            data["expression"],
            timezone=data.get("timezone", "UTC"),
            interval=parse_delta(data.get("interval", 0)),
            run_immediately=run_immediately,
        )


class DeltaTriggerTimetable(_TriggerTimetable):
    """A run every `delta` of real time from the start date."""

    type_name = "delta_trigger"

    def __init__(self, delta: dt.timedelta, *, interval: dt.timedelta = dt.timedelta(0)) -> None:
        if interval < dt.timedelta(0):
            raise ValueError(f"interval must not be negative, got {interval!r}")
        self.delta = delta
        self._interval = interval
        self._grid = DeltaGrid(delta)

    @property
    def summary(self) -> str:
        return str(self.delta)

    @property
    def description(self) -> str:
        return f"Every {self.delta}"

    def serialize(self) -> dict[str, Any]:
        return {"delta": serialize_delta(self.delta), "interval": serialize_delta(self._interval)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(parse_delta(data["delta"]), interval=parse_delta(data.get("interval", 0)))
