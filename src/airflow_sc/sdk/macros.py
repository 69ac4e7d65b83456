"""What templates reach as ``macros``: date helpers and a few standard modules, as in Airflow.

``{{ macros.ds_add(ds, 7) }}``, ``{{ macros.datetime.now() }}``, ``{{ macros.uuid.uuid4() }}``.
Only the names in `__all__` are meant for templates.
"""

import json
import time
import uuid
from datetime import datetime, timedelta
from random import random

__all__ = ["datetime", "ds_add", "ds_format", "json", "random", "time", "timedelta", "uuid"]

_DS_FORMAT = "%Y-%m-%d"


def ds_add(ds: str, days: int) -> str:
    """``YYYY-MM-DD`` shifted by `days` (negative goes back): ``ds_add("2015-01-01", 5)``."""
    if not ds:
        return ds
    shifted = datetime.strptime(ds, _DS_FORMAT) + timedelta(days=days)
    return shifted.strftime(_DS_FORMAT)


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """`ds` read with `input_format` and written with `output_format` (strftime codes)."""
    return datetime.strptime(ds, input_format).strftime(output_format)
