"""Timezone helpers with Airflow's names (``airflow.sdk.timezone``, ``airflow.utils.timezone``).

Every datetime these return is a pendulum ``DateTime``, as in Airflow, so DAG code can call
pendulum methods (``.add(days=1)``, ``.start_of("month")``, ``.diff_for_humans()``) on them.
Naive datetimes are taken as UTC, Airflow's default timezone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from pendulum.tz.timezone import FixedTimezone, Timezone

__all__ = [
    "coerce_datetime",
    "convert_to_utc",
    "datetime",
    "from_timestamp",
    "is_localized",
    "is_naive",
    "local_timezone",
    "make_aware",
    "make_naive",
    "parse",
    "parse_timezone",
    "utc",
    "utc_epoch",
    "utcnow",
]

utc: Timezone = pendulum.UTC


def utcnow() -> pendulum.DateTime:
    """The current time in UTC."""
    return pendulum.now(utc)


def utc_epoch() -> pendulum.DateTime:
    """1970-01-01T00:00:00+00:00."""
    return pendulum.DateTime(1970, 1, 1, tzinfo=utc)


def is_localized(value: dt.datetime) -> bool:
    """Whether `value` carries a timezone."""
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    """Whether `value` has no timezone."""
    return value.utcoffset() is None


def parse_timezone(name: str | int) -> Timezone | FixedTimezone:
    """A timezone by IANA name (``"Europe/Paris"``) or UTC offset in seconds."""
    return pendulum.timezone(name)


def local_timezone() -> Timezone | FixedTimezone:
    """The timezone of this machine."""
    return pendulum.local_timezone()


def coerce_datetime(value: dt.datetime | None, tz: dt.tzinfo | None = None) -> Any:
    """`value` as a pendulum DateTime (``None`` stays ``None``); naive means `tz` or UTC."""
    if value is None:
        return None
    if isinstance(value, pendulum.DateTime) and value.tzinfo is not None:
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or utc)
    return pendulum.instance(value)


def convert_to_utc(value: dt.datetime | None) -> Any:
    """`value` in UTC (naive means UTC already)."""
    if value is None:
        return None
    return coerce_datetime(value).in_timezone(utc)


def make_aware(value: dt.datetime | None, timezone: dt.tzinfo | None = None) -> Any:
    """A naive `value` read in `timezone` (UTC by default); refuses an aware one."""
    if value is None:
        return None
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return pendulum.instance(value.replace(tzinfo=timezone or utc))


def make_naive(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """An aware `value` as naive wall-clock time in `timezone` (UTC by default)."""
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    local = value.astimezone(timezone or utc)
    return dt.datetime(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
    )


def datetime(*args: Any, **kwargs: Any) -> pendulum.DateTime:
    """``datetime.datetime(...)`` in UTC unless ``tzinfo=`` says otherwise."""
    kwargs["tzinfo"] = kwargs.get("tzinfo") or utc
    return pendulum.instance(dt.datetime(*args, **kwargs))


def parse(text: str, timezone: dt.tzinfo | str | None = None) -> pendulum.DateTime:
    """An ISO 8601 (or RFC 3339) string as a DateTime; no offset means `timezone` or UTC."""
    parsed = pendulum.parse(text, tz=timezone or utc, strict=False)
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError(f"{text!r} is not a date and time")
    return parsed


def from_timestamp(seconds: float, tz: dt.tzinfo | str = utc) -> pendulum.DateTime:
    """The DateTime `seconds` after the epoch, in `tz`."""
    return pendulum.from_timestamp(seconds, tz=tz)  # type: ignore[arg-type]
