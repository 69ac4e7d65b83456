"""Rendering task fields: Airflow's context names, file templates, the sandbox, nesting."""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SecurityError

from airflow_sc.sdk.context import (
    ConnectionAccessor,
    RunInfo,
    VariableAccessor,
    VariableNotFound,
    build_template_context,
)
from airflow_sc.sdk.templating import make_environment, render_template, render_template_fields

UTC = dt.UTC


@dataclass
class Dag:
    dag_id: str = "etl"


@dataclass
class Connection:
    host: str
    login: str


@dataclass
class SqlTask:
    """Shaped like an operator: the fields the renderer reads."""

    sql: Any
    parameters: Any = None
    not_templated: str = "{{ ds }}"
    task_id: str = "load"
    template_fields: tuple[str, ...] = ("sql", "parameters")
    template_ext: tuple[str, ...] = (".sql",)


@dataclass
class Inner:
    query: str
    template_fields: tuple[str, ...] = ("query",)


@dataclass
class TaskInstance:
    try_number: int = 1
    extra: list[str] = field(default_factory=list)


VARIABLES = {"bucket": "raw-data", "cfg": json.dumps({"key": "from-json"})}

RUN = RunInfo(
    run_id="scheduled__2024-03-01T00:00:00+00:00",
    run_after=dt.datetime(2024, 3, 2, tzinfo=UTC),
    logical_date=dt.datetime(2024, 3, 1, tzinfo=UTC),
    data_interval_start=dt.datetime(2024, 3, 1, tzinfo=UTC),
    data_interval_end=dt.datetime(2024, 3, 2, tzinfo=UTC),
    conf={"source": "api"},
    run_type="scheduled",
    prev_data_interval_start_success=dt.datetime(2024, 2, 29, tzinfo=UTC),
    prev_data_interval_end_success=dt.datetime(2024, 3, 1, tzinfo=UTC),
    prev_start_date_success=dt.datetime(2024, 3, 1, 0, 0, 7, tzinfo=UTC),
)


def context_for(task: Any, run: RunInfo = RUN) -> Any:
    return build_template_context(
        dag=Dag(),
        task=task,
        run=run,
        ti=TaskInstance(),
        params={"x": 42, "table": "events"},
        variables=VariableAccessor(VARIABLES.get),
        connections=ConnectionAccessor({"db": Connection("db.internal", "etl")}.get),
    )


def render(source: Any, **env_options: Any) -> Any:
    return render_template(source, context_for(SqlTask("")), make_environment(**env_options))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ds }}", "2024-03-01"),
        ("{{ ds_nodash }}", "20240301"),
        ("{{ ts }}", "2024-03-01T00:00:00+00:00"),
        ("{{ ts_nodash }}", "20240301T000000"),
        ("{{ ts_nodash_with_tz }}", "20240301T000000+0000"),
        ("{{ logical_date }}", "2024-03-01 00:00:00+00:00"),
        ("{{ logical_date.year }}", "2024"),
        ("{{ data_interval_start }}", "2024-03-01 00:00:00+00:00"),
        ("{{ data_interval_end }}", "2024-03-02 00:00:00+00:00"),
        ("{{ prev_data_interval_start_success }}", "2024-02-29 00:00:00+00:00"),
        ("{{ prev_data_interval_end_success }}", "2024-03-01 00:00:00+00:00"),
        ("{{ prev_start_date_success }}", "2024-03-01 00:00:07+00:00"),
        ("{{ run_id }}", "scheduled__2024-03-01T00:00:00+00:00"),
        ("{{ dag.dag_id }}", "etl"),
        ("{{ dag_run.conf['source'] }} {{ dag_run.run_type }}", "api scheduled"),
        ("{{ task.task_id }}", "load"),
        ("{{ ti.try_number }}/{{ task_instance.try_number }}", "1/1"),
        ("{{ task_instance_key_str }}", "etl__load__20240301"),
        ("{{ params.x }} {{ params['table'] }}", "42 events"),
        ("{{ var.value.bucket }}", "raw-data"),
        ("{{ var.json.cfg.key }}", "from-json"),
        ("{{ var.value.get('nope', 'fallback') }}", "fallback"),
        ("{{ conn.db.host }}", "db.internal"),
        ("{{ conn.get('db').login }}", "etl"),
        ("{{ inlets }} {{ outlets }} {{ triggering_asset_events }}", "[] [] {}"),
        ("{{ macros.ds_add(ds, 3) }}", "2024-03-04"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "01/03/2024"),
        ("{{ (logical_date + macros.timedelta(days=1)).date() }}", "2024-03-02"),
        ("{{ macros.datetime(2020, 5, 17).strftime('%A') }}", "Sunday"),
        ("{{ macros.json.dumps({'a': 1}) }}", '{"a": 1}'),
        ("{{ data_interval_end | ds }}", "2024-03-02"),
        ("{{ data_interval_end | ds_nodash }}", "20240302"),
        ("{{ data_interval_end | ts }}", "2024-03-02T00:00:00+00:00"),
        ("{{ data_interval_end | ts_nodash }}", "20240302T000000"),
        ("{{ data_interval_end | ts_nodash_with_tz }}", "20240302T000000+0000"),
    ],
)
def test_context_names_render_as_in_airflow(source: str, expected: str) -> None:
    assert render(source) == expected


def test_an_unknown_name_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'dss' is undefined"):
        render("SELECT * FROM t WHERE day = '{{ dss }}'")


def test_a_missing_variable_fails_the_render_naming_it() -> None:
    with pytest.raises(VariableNotFound, match="Variable 'nope' does not exist"):
        render("{{ var.value.nope }}")


def test_a_run_without_logical_date_cannot_use_ds() -> None:
    environment = make_environment()
    context = context_for(SqlTask(""), RunInfo(run_id="manual__x", run_after=RUN.run_after))
    assert render_template("{{ run_id }}", context, environment) == "manual__x"
    with pytest.raises(jinja2.UndefinedError):
        render_template("{{ ds }}", context, environment)


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ dag.__class__.__init__.__globals__ }}",
        "{{ macros.json.__loader__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_the_sandbox_blocks_python_escapes(escape: str) -> None:
    with pytest.raises(SecurityError):
        render(escape)


def test_user_defined_macros_and_filters_are_available() -> None:
    rendered = render(
        "{{ env }}-{{ params.table | shout }}-{{ add(1, 2) }}",
        user_defined_macros={"env": "prod", "add": lambda a, b: a + b},
        user_defined_filters={"shout": lambda s: s.upper()},
    )
    assert rendered == "prod-EVENTS-3"


def test_a_field_naming_a_template_file_is_loaded_from_the_search_path(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    shared = tmp_path / "shared"
    (dags / "sql").mkdir(parents=True)
    shared.mkdir()
    (dags / "sql" / "load.sql").write_text(
        "INSERT INTO {{ params.table }} SELECT * FROM staging WHERE day = '{{ ds }}'"
    )
    (shared / "common.sql").write_text("SELECT '{{ var.value.bucket }}'")
    task = SqlTask(["sql/load.sql", "common.sql", "SELECT 1 -- inline {{ ds_nodash }}"])
    environment = make_environment(searchpath=[str(dags), str(shared)])
    render_template_fields(task, context_for(task), environment)
    assert task.sql == [
        "INSERT INTO events SELECT * FROM staging WHERE day = '2024-03-01'",
        "SELECT 'raw-data'",
        "SELECT 1 -- inline 20240301",
    ]


def test_a_missing_template_file_is_an_error_naming_the_field(tmp_path: Path) -> None:
    task = SqlTask("missing.sql")
    environment = make_environment(searchpath=[str(tmp_path)])
    with pytest.raises(jinja2.TemplateNotFound, match=r"missing\.sql") as caught:
        render_template_fields(task, context_for(task), environment)
    assert "while rendering template field 'sql' of 'load'" in caught.value.__notes__


Pair = namedtuple("Pair", ["left", "right"])


def test_nested_structures_are_rendered_and_other_values_kept() -> None:
    inner = Inner("SELECT '{{ ds }}'")
    source = {
        "list": ["{{ ds }}", 7],
        "tuple": ("{{ params.x }}", None),
        "set": {"{{ ds_nodash }}"},
        "pair": Pair("{{ run_id }}", "{{ params.table }}"),
        "dict": {"{{ ds }}": {"deep": ["{{ var.value.bucket }}"]}},
        "object": inner,
        "number": 3.5,
    }
    rendered = render(source)
    assert rendered["list"] == ["2024-03-01", 7]
    assert rendered["tuple"] == ("42", None)
    assert rendered["set"] == {"20240301"}
    assert rendered["pair"] == Pair(RUN.run_id, "events")
    assert isinstance(rendered["pair"], Pair)
    # Keys are not templates; values are.
    assert rendered["dict"] == {"{{ ds }}": {"deep": ["raw-data"]}}
    assert rendered["object"] is inner
    assert inner.query == "SELECT '2024-03-01'"
    assert rendered["number"] == 3.5
    # The source containers are untouched.
    assert source["list"] == ["{{ ds }}", 7]


def test_only_template_fields_are_rendered_in_place() -> None:
    task = SqlTask("SELECT '{{ ds }}'", parameters={"day": "{{ ds_nodash }}"})
    render_template_fields(task, context_for(task), make_environment())
    assert task.sql == "SELECT '2024-03-01'"
    assert task.parameters == {"day": "20240301"}
    assert task.not_templated == "{{ ds }}"


def test_native_rendering_returns_python_objects() -> None:
    assert render("{{ params.x + 1 }}", native=True) == 43
    assert render("{{ [params.x, ds] }}", native=True) == [42, "2024-03-01"]
    assert render("{{ dag_run.conf }}", native=True) == {"source": "api"}
    assert render("{{ params.x + 1 }}") == "43"
    with pytest.raises(SecurityError):
        render("{{ ''.__class__ }}", native=True)


def test_native_rendering_still_refuses_unknown_names() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'nope' is undefined"):
        render("{{ nope }}", native=True)
