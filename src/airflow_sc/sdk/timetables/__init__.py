"""Schedules: when a DAG runs and which data interval each run covers."""

from ._cron import CRON_PRESETS
from .base import (
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    deserialize_timetable,
    register_timetable,
    serialize_timetable,
)
from .interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
from .resolve import resolve_schedule
from .simple import ContinuousTimetable, NullTimetable, OnceTimetable
from .trigger import CronTriggerTimetable, DeltaTriggerTimetable

__all__ = [
    "CRON_PRESETS",
    "ContinuousTimetable",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "NullTimetable",
    "OnceTimetable",
    "TimeRestriction",
    "Timetable",
    "deserialize_timetable",
    "register_timetable",
    "resolve_schedule",
    "serialize_timetable",
]
