"""`TryContext`: what a try's ``start`` hands its process about the try and its DAG run.

It travels as JSON (`to_json` / `from_json`) over both transports; the task runner turns
it into the template context (`airflow_sc.task_runner.execute.run_info_of`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TryContext"]

_DATES = (
    "run_after",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "run_start_date",
    "start_date",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "prev_start_date_success",
    "prev_end_date_success",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TryContext:
    ti_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    dag_fileloc: str | None
    run_type: str
    run_after: dt.datetime
    start_date: dt.datetime
    logical_date: dt.datetime | None = None
    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    run_start_date: dt.datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    #: The DAG's previous successful run (by logical date; None when there is none or
    #: this run has no logical date): its data interval, start and end.
    prev_data_interval_start_success: dt.datetime | None = None
    prev_data_interval_end_success: dt.datetime | None = None
    prev_start_date_success: dt.datetime | None = None
    prev_end_date_success: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TryContext:
        values = dict(data)
        for name in _DATES:
            if values.get(name) is not None:
                values[name] = dt.datetime.fromisoformat(values[name])
        return cls(**values)
