"""Argument values the dags and tasks commands share: dates, conf, and how they fail."""

from __future__ import annotations

import datetime as dt
import json
import sys
import zoneinfo
from typing import Any

from airflow_sc.config import Settings


class UsageError(ValueError):
    """An argument the command cannot use; its message is printed as is."""


def fail(message: str, code: int = 1) -> int:
    """Print `message` as airflow-sc's error and return the exit code."""
    print(f"airflow-sc: {message}", file=sys.stderr)
    return code


def parse_datetime(text: str | None, settings: Settings, *, name: str) -> dt.datetime | None:
    """An ISO date or datetime; a naive one is in `core.default_timezone`."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name} {text!r} is not an ISO date or datetime") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(settings.core.default_timezone))
    return value


def parse_conf(text: str | None) -> dict[str, Any]:
    """`--conf`: a JSON object (empty when not given)."""
    if text is None:
        return {}
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise UsageError(f"--conf must be a JSON object, got {text!r}")
    return conf


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
