"""`TryContext`: what the execution API's `start` call hands a worker about its try.

It travels as JSON (`to_json` / `from_json`); `run_info()` turns it into the `RunInfo` the
task runner builds the template context from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from airflow_sc.sdk.context import RunInfo

__all__ = ["TryContext"]

_DATES = (
    "run_after",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "run_start_date",
    "start_date",
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

    def run_info(self) -> RunInfo:
        return RunInfo(
            run_id=self.run_id,
            run_after=self.run_after,
            logical_date=self.logical_date,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
            conf=dict(self.conf),
            run_type=self.run_type,
            start_date=self.run_start_date,
            dag_id=self.dag_id,
        )

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
