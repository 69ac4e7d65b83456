"""`WeekDay`: the days of the week, numbered as ``datetime.isoweekday()`` (Monday is 1)."""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["WeekDay"]


@enum.unique
class WeekDay(enum.IntEnum):
    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The number of a day given by name, in any case: ``"monday"`` -> 1."""
        try:
            return cls[week_day_str.strip().upper()].value
        except KeyError:
            known = ", ".join(day.name.title() for day in cls)
            raise AttributeError(f'Invalid Week Day passed: "{week_day_str}" ({known})') from None

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """The number of `day`, given as a name or a `WeekDay`."""
        if isinstance(day, WeekDay):
            return day.value
        return cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(
        cls, week_day: str | WeekDay | Iterable[str] | Iterable[WeekDay]
    ) -> set[int]:
        """The day numbers of one day or several (names or `WeekDay`\\ s)."""
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        if isinstance(week_day, Iterable):
            return {cls.convert(day) for day in week_day}
        raise TypeError(
            f"Unsupported Type for week_day parameter: {type(week_day).__name__}. Input should "
            "be iterable type: str, set, list, dict or Weekday enum type"
        )
