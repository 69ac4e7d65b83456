"""The timetable protocol: what a schedule answers, and how it is stored.

A timetable is pure: given the last automated run's data interval and the restriction the
DAG imposes (start/end dates, catchup, the current time), it says when the next run is due.
The scheduler never imports DAG files, so every timetable serializes to a JSON-able dict and
is rebuilt from it by `deserialize_timetable`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Self

import pendulum

__all__ = [
    "DagRunInfo",
    "DataInterval",
    "TimeRestriction",
    "Timetable",
    "as_utc",
    "deserialize_timetable",
    "register_timetable",
    "serialize_timetable",
]

UTC = dt.UTC


def as_utc(value: dt.datetime, *, name: str = "datetime") -> dt.datetime:
    """`value` converted to UTC; a naive datetime is refused (its meaning would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    if isinstance(value, pendulum.DateTime):
        # pendulum arithmetic drops a stdlib tzinfo: keep pendulum's own UTC.
        return value.in_timezone(pendulum.UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DataInterval:
    """The span of data a run covers: `start` inclusive, `end` exclusive, both UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        start = as_utc(self.start, name="data interval start")
        end = as_utc(self.end, name="data interval end")
        if end < start:
            raise ValueError(f"data interval ends ({end}) before it starts ({start})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def exact(cls, at: dt.datetime) -> Self:
        """An empty interval at one instant."""
        return cls(at, at)


@dataclass(frozen=True, slots=True)
class DagRunInfo:
    """When a run may start (`run_after`) and the data interval it covers."""

    run_after: dt.datetime
    data_interval: DataInterval

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_after", as_utc(self.run_after, name="run_after"))

    @property
    def logical_date(self) -> dt.datetime:
        """The run's logical date: the start of its data interval (Airflow's rule)."""
        return self.data_interval.start

    @classmethod
    def exact(cls, at: dt.datetime) -> Self:
        """A run due at `at` covering the empty interval at `at`."""
        return cls(at, DataInterval.exact(at))

    @classmethod
    def interval(cls, start: dt.datetime, end: dt.datetime) -> Self:
        """A run covering `[start, end)`, due once the interval has ended."""
        return cls(end, DataInterval(start, end))


class TimeRestriction(NamedTuple):
    """What the DAG allows: no run before `earliest` or after `latest` (its start/end dates).

    `now` is the scheduler's current time (UTC); `None` means the real clock. Tests and the
    scheduler pass it explicitly so that catchup=False decisions are reproducible.
    """

    earliest: dt.datetime | None
    latest: dt.datetime | None
    catchup: bool
    now: dt.datetime | None = None

    def current_time(self) -> dt.datetime:
        """`now` in UTC, or the real clock when none was given."""
        if self.now is None:
            return dt.datetime.now(UTC)
        return as_utc(self.now, name="now")


_REGISTRY: dict[str, type[Timetable]] = {}


class Timetable:
    """Base class of every schedule. Subclasses are registered for deserialization."""

    #: Whether runs are created automatically (False only for ``schedule=None``).
    can_be_scheduled: ClassVar[bool] = True
    #: Whether runs come at regular times (used by the UI and catchup reasoning).
    periodic: ClassVar[bool] = False
    #: At most this many active runs, whatever the DAG says (``None``: no limit of its own).
    active_runs_limit: ClassVar[int | None] = None
    #: Key in serialized DAGs; defaults to the class's module path and name.
    type_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = f"{cls.__module__}.{cls.__qualname__}"
        if not cls.__name__.startswith("_"):  # private bases are never instantiated
            register_timetable(cls)
        if not cls.__module__.startswith("airflow_sc."):
            _hand_pendulum_dates(cls)

    @property
    def summary(self) -> str:
        """A short label for the UI (the cron expression, the preset, ...)."""
        return type(self).__name__

    @property
    def description(self) -> str:
        """A human sentence describing when runs happen."""
        return self.summary

    def validate(self) -> None:
        """Raise `ValueError` when the timetable's arguments cannot work."""

    def serialize(self) -> dict[str, Any]:
        """The timetable's arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Rebuild a timetable from what `serialize` returned."""
        return cls()

    def infer_manual_data_interval(self, *, run_after: dt.datetime) -> DataInterval:
        """The data interval of a run triggered by hand at `run_after`."""
        return DataInterval.exact(run_after)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The next automated run, or ``None`` when there is none (ever, or under `restriction`)."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Timetable)
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((type(self), repr(sorted(self.serialize().items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.summary!r})"


def _pendulum(value: dt.datetime | None) -> Any:
    return None if value is None else pendulum.instance(value)


def _hand_pendulum_dates(cls: type[Timetable]) -> None:
    """Make a user's timetable receive pendulum DateTimes, as Airflow hands them.

    Timetables written for Airflow call pendulum methods on what they are given
    (``run_after.subtract(days=1)``); the built-in ones work on plain datetimes.
    """
    next_info: Callable[..., Any] | None = cls.__dict__.get("next_dagrun_info")
    if next_info is not None:

        @functools.wraps(next_info)
        def next_dagrun_info(
            self: Timetable,
            *,
            last_automated_data_interval: DataInterval | None,
            restriction: TimeRestriction,
        ) -> DagRunInfo | None:
            last = last_automated_data_interval
            if last is not None:
                last = DataInterval(_pendulum(last.start), _pendulum(last.end))
            restriction = TimeRestriction(
                _pendulum(restriction.earliest),
                _pendulum(restriction.latest),
                restriction.catchup,
                restriction.now,
            )
            return next_info(  # type: ignore[no-any-return]
                self, last_automated_data_interval=last, restriction=restriction
            )

        cls.next_dagrun_info = next_dagrun_info  # type: ignore[method-assign]
    infer: Callable[..., Any] | None = cls.__dict__.get("infer_manual_data_interval")
    if infer is not None:

        @functools.wraps(infer)
        def infer_manual_data_interval(self: Timetable, *, run_after: dt.datetime) -> Any:
            return infer(self, run_after=_pendulum(run_after))

        cls.infer_manual_data_interval = infer_manual_data_interval  # type: ignore[method-assign]


def register_timetable(cls: type[Timetable]) -> type[Timetable]:
    """Make `cls` rebuildable by `deserialize_timetable` (subclasses register themselves)."""
    known = _REGISTRY.get(cls.type_name)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"timetable type name {cls.type_name!r} is already used by {known!r}")
    _REGISTRY[cls.type_name] = cls
    return cls


def serialize_timetable(timetable: Timetable) -> dict[str, Any]:
    """The stored form of any timetable: its type name and its `serialize()` dict."""
    return {"__type": type(timetable).type_name, "__var": timetable.serialize()}


def deserialize_timetable(data: dict[str, Any]) -> Timetable:
    """Rebuild a timetable stored by `serialize_timetable`."""
    try:
        type_name = data["__type"]
    except (KeyError, TypeError):
        raise ValueError(f"not a serialized timetable (no '__type'): {data!r}") from None
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise ValueError(
            f"unknown timetable type {type_name!r}; register custom timetables with "
            "register_timetable (they register themselves when their module is imported)"
        )
    return cls.deserialize(dict(data.get("__var") or {}))
