"""The fire times a periodic timetable steps along: a cron schedule or a fixed delta."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["DeltaGrid", "Grid", "parse_delta", "serialize_delta"]


class Grid(Protocol):
    """Ordered fire times; every query takes and returns UTC instants."""

    def next_after(self, instant: dt.datetime) -> dt.datetime: ...
    def prev_before(self, instant: dt.datetime) -> dt.datetime: ...
    def align_up(self, instant: dt.datetime) -> dt.datetime: ...
    def align_down(self, instant: dt.datetime) -> dt.datetime: ...


class DeltaGrid:
    """Every instant is a fire time; a step is `delta` of real (UTC) time."""

    def __init__(self, delta: dt.timedelta) -> None:
        if delta <= dt.timedelta(0):
            raise ValueError(f"schedule delta must be positive, got {delta!r}")
        self.delta = delta

    def next_after(self, instant: dt.datetime) -> dt.datetime:
        return instant + self.delta

    def prev_before(self, instant: dt.datetime) -> dt.datetime:
        return instant - self.delta

    def align_up(self, instant: dt.datetime) -> dt.datetime:
        return instant

    def align_down(self, instant: dt.datetime) -> dt.datetime:
        return instant


def serialize_delta(delta: dt.timedelta) -> float:
    """A timedelta as JSON: its length in seconds."""
    return delta.total_seconds()


def parse_delta(value: object) -> dt.timedelta:
    """The timedelta stored by `serialize_delta`."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    raise ValueError(f"not a serialized timedelta: {value!r}")
