"""Cron expressions evaluated on a timezone's wall clock, with daylight saving handled.

croniter works on naive datetimes. Two rules turn its wall-clock answers into instants:

* An expression that fires every hour (hour field ``*``) is a fixed period: it keeps firing
  every N real minutes through a DST change (the delta between wall-clock fire times is
  added to the real instant), so an hourly job neither skips nor repeats an hour.
* Any other expression names wall-clock hours. Each wall-clock fire time maps to one instant:
  an ambiguous time (clocks fall back) maps to its first occurrence, a skipped time (clocks
  spring forward) to the first instant after the gap, as cron daemons do. This mapping never
  goes backwards as wall time advances, which is what makes "first fire after t" a forward
  scan, and a daily 02:30 or 01:30 job runs exactly once on either transition day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

__all__ = ["CRON_PRESETS", "CronSchedule", "load_timezone", "timezone_name", "validate_cron"]

UTC = dt.UTC

#: Airflow's cron presets (``@once``/``@continuous`` are timetables of their own).
CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@midnight": "0 0 * * *",
}

_PRESET_DESCRIPTIONS: dict[str, str] = {
    "@hourly": "At the start of every hour",
    "@daily": "At 00:00 every day",
    "@midnight": "At 00:00 every day",
    "@weekly": "At 00:00 every Sunday",
    "@monthly": "At 00:00 on the first day of every month",
    "@quarterly": "At 00:00 on the first day of January, April, July and October",
    "@yearly": "At 00:00 on January 1st",
    "@annually": "At 00:00 on January 1st",
}

_ONE_HOUR = dt.timedelta(hours=1)
# More than any UTC offset change on record, so scans that start this far away cover it.
_MAX_SHIFT = dt.timedelta(hours=3)


def load_timezone(name: str) -> ZoneInfo:
    """The IANA timezone `name`; `ValueError` when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def timezone_name(timezone: str | dt.tzinfo) -> str:
    """The IANA name of `timezone` (a name, a `ZoneInfo`, or UTC); `ValueError` otherwise."""
    if isinstance(timezone, str):
        name = timezone
    elif timezone is dt.UTC:
        name = "UTC"
    else:
        key = getattr(timezone, "key", None) or getattr(timezone, "name", None)
        if not isinstance(key, str):
            raise ValueError(f"timezone {timezone!r} has no IANA name; pass one like 'UTC'")
        name = key
    load_timezone(name)
    return name


class CronSchedule:
    """Fire times of one cron expression in one timezone, as UTC instants."""

    def __init__(self, expression: str, timezone: str) -> None:
        self.expression = expression
        self.timezone = timezone
        self._tz = load_timezone(timezone)
        self._cron = CRON_PRESETS.get(expression, expression)
        if not croniter.is_valid(self._cron):
            raise ValueError(f"invalid cron expression {expression!r}")
        fields = croniter(self._cron).expressions
        self._fixed_period = len(fields) >= 2 and fields[1] == "*"

    @property
    def description(self) -> str:
        """A human sentence for the UI."""
        base = _PRESET_DESCRIPTIONS.get(self.expression, f"Cron schedule {self._cron!r}")
        return f"{base} ({self.timezone})"

    # -- wall clock <-> instant -------------------------------------------------------------

    def _wall(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self._tz).replace(tzinfo=None)

    def _instant(self, wall: dt.datetime) -> dt.datetime:
        """The instant of a wall-clock time (first occurrence; after the gap if skipped)."""
        first = wall.replace(tzinfo=self._tz, fold=0).astimezone(UTC)
        if self._wall(first) == wall:
            return first
        # Skipped by a spring-forward. Read with the offset before the change (fold=0) it
        # lands after the gap, read with the offset after it (fold=1) before the gap; the
        # change itself, a whole second, lies between: bisect on the UTC offset.
        lo = int(wall.replace(tzinfo=self._tz, fold=1).timestamp())
        hi = int(first.timestamp()) + 1
        after = first.astimezone(self._tz).utcoffset()
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if dt.datetime.fromtimestamp(mid, self._tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return dt.datetime.fromtimestamp(hi, UTC)

    def _walls_after(self, wall: dt.datetime) -> croniter:
        return croniter(self._cron, wall)

    # -- queries -----------------------------------------------------------------------------

    def next_after(self, instant: dt.datetime) -> dt.datetime:
        """The first fire time strictly after `instant`."""
        instant = instant.astimezone(UTC)
        wall = self._wall(instant)
        it = self._walls_after(wall)
        if self._fixed_period:
            following: dt.datetime = it.get_next(dt.datetime)
            return instant + (following - wall)
        while True:
            candidate = self._instant(it.get_next(dt.datetime))
            if candidate > instant:
                return candidate

    def prev_before(self, instant: dt.datetime) -> dt.datetime:
        """The last fire time strictly before `instant`."""
        instant = instant.astimezone(UTC)
        wall = self._wall(instant)
        if self._fixed_period:
            it = self._walls_after(wall)
            previous: dt.datetime = it.get_prev(dt.datetime)
            return instant - (wall - previous)
        it = self._walls_after(wall + _MAX_SHIFT)
        while True:
            candidate = self._instant(it.get_prev(dt.datetime))
            if candidate < instant:
                return candidate

    def align_up(self, instant: dt.datetime) -> dt.datetime:
        """`instant` if it is a fire time, else the next fire time."""
        return self.next_after(self.prev_before(instant))

    def align_down(self, instant: dt.datetime) -> dt.datetime:
        """`instant` if it is a fire time, else the previous fire time."""
        return self.prev_before(self.next_after(instant))


def validate_cron(expression: str) -> None:
    """`ValueError` unless `expression` is a cron expression or preset croniter accepts."""
    try:
        valid = croniter.is_valid(CRON_PRESETS.get(expression, expression))
    except CroniterError:
        valid = False
    if not valid:
        raise ValueError(f"invalid cron expression {expression!r}")
