"""The task context: the names a running task and its templates see, as in Airflow.

The task runner builds one `Context` per try with `build_template_context`; variables and
connections are fetched lazily through plain callables it provides, so a template that never
mentions ``var`` never reaches the secrets backends. Dates are pendulum ``DateTime`` objects
in UTC, as Airflow gives them, so ``{{ logical_date.add(days=1) }}`` or
``data_interval_end.start_of("month")`` work. While a try runs, `get_current_context()`
returns its context (in sync and ``async def`` tasks alike).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pendulum

from . import macros

__all__ = [
    "ConnectionAccessor",
    "ConnectionNotFound",
    "Context",
    "RunInfo",
    "VariableAccessor",
    "VariableNotFound",
    "build_template_context",
    "context_active",
    "get_current_context",
    "to_pendulum",
]

_MISSING: Any = object()


class Context(TypedDict, total=False):
    """Airflow's context names. Date names are absent for runs without a logical date."""

    dag: Any
    dag_run: Any
    task: Any
    task_instance: Any
    ti: Any
    run_id: str
    params: Mapping[str, Any]
    var: Mapping[str, VariableAccessor]
    conn: ConnectionAccessor
    macros: Any
    inlets: list[Any]
    outlets: list[Any]
    triggering_asset_events: Mapping[str, list[Any]]
    templates_dict: Mapping[str, Any] | None
    task_instance_key_str: str
    try_number: int | None
    map_index: int
    start_date: dt.datetime | None
    logical_date: dt.datetime
    ds: str
    ds_nodash: str
    ts: str
    ts_nodash: str
    ts_nodash_with_tz: str
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    prev_data_interval_start_success: dt.datetime | None
    prev_data_interval_end_success: dt.datetime | None
    prev_start_date_success: dt.datetime | None
    prev_end_date_success: dt.datetime | None


_current: ContextVar[Context | None] = ContextVar("airflow_sc_task_context", default=None)


def get_current_context() -> Context:
    """The context of the running task (what its ``execute`` received).

    Works anywhere in a task's code, sync or ``async def``; outside a running task it is an
    error, as in Airflow.
    """
    context = _current.get()
    if context is None:
        raise RuntimeError(
            "Current context was requested but no context was found! Are you running within a task?"
        )
    return context


@contextmanager
def context_active(context: Context) -> Iterator[None]:
    """Make `context` what `get_current_context` returns inside the block."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def to_pendulum(value: dt.datetime | None) -> Any:
    """`value` as a pendulum DateTime in UTC (``None`` stays ``None``; naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, pendulum.DateTime) and value.tzinfo is pendulum.UTC:
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    utc = value.astimezone(dt.UTC)
    # Built field by field: about 8 times cheaper than pendulum.instance(), once per date of
    # every try.
    return pendulum.DateTime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=pendulum.UTC,
    )


_RUN_DATES = (
    "run_after",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "start_date",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "prev_start_date_success",
    "prev_end_date_success",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """The facts about one DAG run that the context exposes (``dag_run`` in templates)."""

    run_id: str
    run_after: dt.datetime
    logical_date: dt.datetime | None = None
    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    conf: Mapping[str, Any] = field(default_factory=dict)
    run_type: str = "manual"
    start_date: dt.datetime | None = None
    dag_id: str | None = None
    prev_data_interval_start_success: dt.datetime | None = None
    prev_data_interval_end_success: dt.datetime | None = None
    prev_start_date_success: dt.datetime | None = None
    prev_end_date_success: dt.datetime | None = None

    def with_pendulum_dates(self) -> RunInfo:
        """The same run with every date a pendulum DateTime in UTC (what the context shows)."""
        changes = {name: to_pendulum(getattr(self, name)) for name in _RUN_DATES}
        return dataclasses.replace(self, **changes)


class VariableNotFound(KeyError):
    """No variable has this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"Variable {self.key!r} does not exist"


class ConnectionNotFound(KeyError):
    """No connection has this id."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(conn_id)
        self.conn_id = conn_id

    def __str__(self) -> str:
        return f"Connection {self.conn_id!r} does not exist"


class VariableAccessor:
    """``var.value.key`` / ``var.json.key`` / ``var.value.get("key", default)`` in templates.

    `getter` returns the stored string or ``None`` when the variable does not exist.
    """

    def __init__(
        self, getter: Callable[[str], str | None], *, deserialize_json: bool = False
    ) -> None:
        self._getter = getter
        self._deserialize_json = deserialize_json

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The variable's value, `default` when it does not exist (error without default)."""
        raw = self._getter(key)
        if raw is None:
            if default is _MISSING:
                raise VariableNotFound(key)
            return default
        if not self._deserialize_json:
            return raw
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"Variable {key!r} is not valid JSON: {exc}") from None

    def __getattr__(self, key: str) -> Any:
        # Dunder and private lookups (copy, pickle, Jinja's __html__ probe) are not variables.
        if key.startswith("_"):
            raise AttributeError(key)
        return self.get(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __repr__(self) -> str:
        return "<VariableAccessor json>" if self._deserialize_json else "<VariableAccessor>"


class ConnectionAccessor:
    """``conn.my_db.host`` / ``conn.get("my_db")`` in templates.

    `getter` returns the connection or ``None`` when it does not exist.
    """

    def __init__(self, getter: Callable[[str], Any]) -> None:
        self._getter = getter

    def get(self, conn_id: str, default: Any = _MISSING) -> Any:
        """The connection, `default` when it does not exist (error without default)."""
        connection = self._getter(conn_id)
        if connection is None:
            if default is _MISSING:
                raise ConnectionNotFound(conn_id)
            return default
        return connection

    def __getattr__(self, conn_id: str) -> Any:
        if conn_id.startswith("_"):
            raise AttributeError(conn_id)
        return self.get(conn_id)

    def __getitem__(self, conn_id: str) -> Any:
        return self.get(conn_id)

    def __repr__(self) -> str:
        return "<ConnectionAccessor>"


def build_template_context(
    *,
    dag: Any,
    task: Any,
    run: RunInfo,
    ti: Any,
    params: Mapping[str, Any],
    variables: VariableAccessor,
    connections: ConnectionAccessor,
) -> Context:
    """The context of one task try. Dates are pendulum DateTimes in UTC; `params` are the
    run's resolved params.

    `variables` is the plain-string accessor; ``var.json`` shares its getter.
    """
    run = run.with_pendulum_dates()
    getter = variables._getter
    context: Context = {
        "dag": dag,
        "dag_run": run,
        "task": task,
        "task_instance": ti,
        "ti": ti,
        "run_id": run.run_id,
        "params": params,
        "var": {
            "value": VariableAccessor(getter),
            "json": VariableAccessor(getter, deserialize_json=True),
        },
        "conn": connections,
        "macros": macros,
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "triggering_asset_events": {},
        "templates_dict": getattr(task, "templates_dict", None),
        "try_number": getattr(ti, "try_number", None),
        "map_index": getattr(ti, "map_index", -1),
        "start_date": run.start_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "prev_data_interval_start_success": run.prev_data_interval_start_success,
        "prev_data_interval_end_success": run.prev_data_interval_end_success,
        "prev_start_date_success": run.prev_start_date_success,
        "prev_end_date_success": run.prev_end_date_success,
    }
    if run.logical_date is not None:
        logical_date = run.logical_date
        ds = logical_date.strftime("%Y-%m-%d")
        ts = logical_date.isoformat()
        context["logical_date"] = logical_date
        context["ds"] = ds
        context["ds_nodash"] = ds.replace("-", "")
        context["ts"] = ts
        context["ts_nodash"] = logical_date.strftime("%Y%m%dT%H%M%S")
        context["ts_nodash_with_tz"] = ts.replace("-", "").replace(":", "")
        dag_id = getattr(dag, "dag_id", run.dag_id)
        task_id = getattr(task, "task_id", None)
        context["task_instance_key_str"] = f"{dag_id}__{task_id}__{context['ds_nodash']}"
    return context
