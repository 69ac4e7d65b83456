"""The task context: Airflow's names, lazy variables and connections."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_sc.sdk import macros
from airflow_sc.sdk.context import (
    ConnectionAccessor,
    ConnectionNotFound,
    RunInfo,
    VariableAccessor,
    VariableNotFound,
    build_template_context,
)

UTC = dt.UTC


@dataclass
class Dag:
    dag_id: str = "etl"


@dataclass
class Task:
    task_id: str = "load"
    outlets: list[str] = field(default_factory=lambda: ["s3://out"])


@dataclass
class TaskInstance:
    try_number: int = 2
    map_index: int = -1


@dataclass
class Connection:
    host: str
    port: int


VARIABLES = {"greeting": "hello", "cfg": json.dumps({"key": "value", "n": 3})}
CONNECTIONS = {"db": Connection("db.example", 5432)}


def make_context(run: RunInfo, fetched: list[str] | None = None) -> Any:
    def get_variable(key: str) -> str | None:
        if fetched is not None:
            fetched.append(key)
        return VARIABLES.get(key)

    return build_template_context(
        dag=Dag(),
        task=Task(),
        run=run,
        ti=TaskInstance(),
        params={"x": 1},
        variables=VariableAccessor(get_variable),
        connections=ConnectionAccessor(CONNECTIONS.get),
    )


RUN = RunInfo(
    run_id="scheduled__2024-01-02T03:04:05+00:00",
    run_after=dt.datetime(2024, 1, 3, tzinfo=UTC),
    logical_date=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    data_interval_start=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    data_interval_end=dt.datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC),
    conf={"k": "v"},
    run_type="scheduled",
)


def test_date_names_are_derived_from_the_logical_date_in_utc() -> None:
    ctx = make_context(RUN)
    assert ctx["ds"] == "2024-01-02"
    assert ctx["ds_nodash"] == "20240102"
    assert ctx["ts"] == "2024-01-02T03:04:05+00:00"
    assert ctx["ts_nodash"] == "20240102T030405"
    assert ctx["ts_nodash_with_tz"] == "20240102T030405+0000"
    assert ctx["task_instance_key_str"] == "etl__load__20240102"


def test_a_logical_date_in_another_zone_is_reported_in_utc() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    run = RunInfo(
        run_id="r", run_after=RUN.run_after, logical_date=dt.datetime(2024, 1, 2, 5, tzinfo=tokyo)
    )
    assert make_context(run)["ds"] == "2024-01-01"
    assert make_context(run)["ts"] == "2024-01-01T20:00:00+00:00"


def test_objects_and_run_facts_are_exposed_under_airflow_names() -> None:
    ctx = make_context(RUN)
    assert ctx["ti"] is ctx["task_instance"]
    assert ctx["ti"].try_number == 2
    assert ctx["try_number"] == 2
    assert ctx["dag"].dag_id == "etl"
    assert ctx["dag_run"].conf == {"k": "v"}
    assert ctx["run_id"] == RUN.run_id
    assert ctx["params"] == {"x": 1}
    assert ctx["macros"] is macros
    assert ctx["inlets"] == []
    assert ctx["outlets"] == ["s3://out"]
    assert ctx["triggering_asset_events"] == {}
    assert ctx["prev_data_interval_start_success"] is None


def test_a_run_without_logical_date_has_no_date_names() -> None:
    ctx = make_context(RunInfo(run_id="manual__1", run_after=RUN.run_after))
    assert "ds" not in ctx
    assert "logical_date" not in ctx
    assert ctx["run_id"] == "manual__1"


def test_variables_are_fetched_only_when_used() -> None:
    fetched: list[str] = []
    ctx = make_context(RUN, fetched)
    assert fetched == []
    assert ctx["var"]["value"].greeting == "hello"
    assert ctx["var"]["json"].cfg == {"key": "value", "n": 3}
    assert fetched == ["greeting", "cfg"]


def test_a_missing_variable_is_an_error_naming_it_unless_a_default_is_given() -> None:
    var = make_context(RUN)["var"]
    with pytest.raises(VariableNotFound, match="Variable 'nope' does not exist") as caught:
        _ = var["value"].nope
    assert isinstance(caught.value, KeyError)
    assert var["value"].get("nope", "fallback") == "fallback"
    assert var["json"].get("nope", {"a": 1}) == {"a": 1}


def test_connections_by_attribute_or_get() -> None:
    conn = make_context(RUN)["conn"]
    assert conn.db.host == "db.example"
    assert conn.get("db").port == 5432
    assert conn.get("other", None) is None
    with pytest.raises(ConnectionNotFound, match="Connection 'other' does not exist"):
        _ = conn.other


def test_macros_shift_and_reformat_dates() -> None:
    assert macros.ds_add("2015-01-01", 5) == "2015-01-06"
    assert macros.ds_add("2015-01-06", -5) == "2015-01-01"
    assert macros.ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y") == "01-01-15"
    assert macros.datetime(2024, 1, 1) + macros.timedelta(days=1) == macros.datetime(2024, 1, 2)
    assert 0 <= macros.random() < 1
    assert macros.json.loads("[1]") == [1]
    assert macros.uuid.UUID(str(macros.uuid.uuid4()))
    assert macros.time.time() > 0
