"""Turn a DAG's ``schedule=`` argument into a timetable, as Airflow 3 does by default."""

from __future__ import annotations

import datetime as dt

from ._cron import CRON_PRESETS
from .base import Timetable
from .simple import ContinuousTimetable, NullTimetable, OnceTimetable
from .trigger import CronTriggerTimetable, DeltaTriggerTimetable

__all__ = ["resolve_schedule"]


def resolve_schedule(schedule: object, *, timezone: str) -> Timetable:
    """The timetable for `schedule`, evaluated in the DAG's `timezone`.

    ``None`` never runs on its own, ``"@once"`` and ``"@continuous"`` are what they say, any
    other string is a cron expression or preset and a timedelta a fixed period. Like Airflow
    3 (``create_cron_data_intervals`` and ``create_delta_data_intervals`` off), those two
    trigger at each fire time with an empty data interval; pass `CronDataIntervalTimetable`
    or `DeltaDataIntervalTimetable` for Airflow 2's interval semantics. A `Timetable`
    instance is used as given. Anything else is a `ValueError`.
    """
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        return schedule
    if isinstance(schedule, str):
        return _from_string(schedule.strip(), timezone)
    if isinstance(schedule, dt.timedelta):
        if schedule <= dt.timedelta(0):
            raise ValueError(f"schedule timedelta must be positive, got {schedule!r}")
        return DeltaTriggerTimetable(schedule)
    raise ValueError(
        f"schedule must be None, a cron string or preset, a timedelta or a Timetable; "
        f"got {type(schedule).__name__} {schedule!r}"
    )


def _from_string(schedule: str, timezone: str) -> Timetable:
    if schedule == "@once":
        return OnceTimetable()
    if schedule == "@continuous":
        return ContinuousTimetable()
    if schedule.startswith("@") and schedule not in CRON_PRESETS:
        known = ", ".join(["@once", "@continuous", *CRON_PRESETS])
        raise ValueError(f"unknown schedule preset {schedule!r}; known presets: {known}")
    try:
        return CronTriggerTimetable(schedule, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"invalid schedule {schedule!r}: {exc}") from None
