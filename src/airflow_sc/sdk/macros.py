"""What templates reach as ``macros``: date helpers and a few standard modules, as in Airflow.

``{{ macros.ds_add(ds, 7) }}``, ``{{ macros.datetime.now() }}``, ``{{ macros.uuid.uuid4() }}``,
``{{ macros.dateutil.relativedelta.relativedelta(months=1) }}``. Only the names in `__all__`
are meant for templates; plugins add theirs as ``macros.<plugin name>.<macro>``.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from random import random
from typing import Any

import dateutil
import dateutil.relativedelta
import pendulum

__all__ = [
    "datetime",
    "datetime_diff_for_humans",
    "dateutil",
    "ds_add",
    "ds_format",
    "ds_format_locale",
    "json",
    "random",
    "time",
    "timedelta",
    "uuid",
]

_DS_FORMAT = "%Y-%m-%d"


def ds_add(ds: str, days: int) -> str:
    """``YYYY-MM-DD`` shifted by `days` (negative goes back): ``ds_add("2015-01-01", 5)``."""
    if not days:
        return str(ds)
    shifted = datetime.strptime(str(ds), _DS_FORMAT) + timedelta(days=days)
    return shifted.strftime(_DS_FORMAT)


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """`ds` read with `input_format` and written with `output_format` (strftime codes)."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def ds_format_locale(
    ds: str, input_format: str, output_format: str, locale: str | None = None
) -> str:
    """`ds_format` whose output follows `locale` (Babel/CLDR codes such as ``MMMM yyyy``).

    ``ds_format_locale("2015-01-05", "%Y-%m-%d", "EEEE d MMMM", "fr_FR")`` ->
    ``"lundi 5 janvier"``.
    """
    from babel import Locale
    from babel.dates import LC_TIME, format_datetime

    chosen = Locale.parse(locale) if locale else LC_TIME
    return format_datetime(datetime.strptime(str(ds), input_format), output_format, locale=chosen)


def datetime_diff_for_humans(dt: Any, since: Any = None) -> str:
    """How far `dt` is from `since` (now by default), in words: ``"2 days ago"``."""
    base = pendulum.instance(since) if since is not None else None
    return str(pendulum.instance(dt).diff_for_humans(base))
