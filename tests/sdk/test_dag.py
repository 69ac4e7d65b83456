"""DAG objects: arguments, schedule resolution, graph queries, and parse-time validation."""

from __future__ import annotations

import datetime as dt
import sys
from zoneinfo import ZoneInfo

import pytest

from airflow_sc.sdk import (
    DAG,
    AirflowDagCycleException,
    CronTriggerTimetable,
    DagDefinitionError,
    DuplicateTaskIdFound,
    EmptyOperator,
    Param,
    ParamValidationError,
    dag,
)
from airflow_sc.sdk.dag import capture_dags
from airflow_sc.sdk.timetables import DeltaTriggerTimetable, NullTimetable, OnceTimetable

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def next_line() -> int:
    return sys._getframe(1).f_lineno + 1


def test_airflow_3_defaults() -> None:
    d = DAG("defaults")
    assert d.schedule is None
    assert isinstance(d.timetable, NullTimetable)
    assert d.catchup is False
    assert d.max_active_runs == 16
    assert d.max_active_tasks == 16
    assert d.is_paused_upon_creation is None
    assert d.fileloc == __file__
    assert d.tags == []


def test_arguments_are_kept() -> None:
    def callback(context: object) -> None: ...

    d = DAG(
        "full",
        description="desc",
        schedule="0 6 * * *",
        start_date=dt.datetime(2024, 1, 1),
        end_date=dt.datetime(2025, 1, 1),
        catchup=True,
        max_active_runs=2,
        max_active_tasks=8,
        dagrun_timeout=dt.timedelta(hours=1),
        tags=["a", "b", "a"],
        doc_md="# doc",
        on_success_callback=callback,
        on_failure_callback=[callback],
        is_paused_upon_creation=True,
        template_searchpath="/tmp",
    )
    assert d.start_date == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # naive means UTC
    assert d.end_date == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert isinstance(d.timetable, CronTriggerTimetable)
    assert d.timetable.summary == "0 6 * * *"
    assert d.tags == ["a", "b"]
    assert d.on_success_callback == [callback]
    assert d.on_failure_callback == [callback]
    assert d.template_searchpath == ["/tmp"]
    assert (d.catchup, d.max_active_runs, d.max_active_tasks) == (True, 2, 8)


def test_schedule_forms_resolve_to_timetables() -> None:
    assert isinstance(DAG("once", schedule="@once", start_date=START).timetable, OnceTimetable)
    delta = DAG("delta", schedule=dt.timedelta(hours=2), start_date=START).timetable
    assert isinstance(delta, DeltaTriggerTimetable)
    custom = CronTriggerTimetable("5 * * * *", timezone="UTC")
    assert DAG("custom", schedule=custom, start_date=START).timetable is custom


def test_timezone_comes_from_start_date() -> None:
    berlin = dt.datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    d = DAG("tz", schedule="@daily", start_date=berlin)
    assert d.timezone == "Europe/Berlin"


def test_start_date_from_default_args() -> None:
    d = DAG("from_args", schedule="@daily", default_args={"start_date": START})
    assert d.start_date == START
    d.validate()


def test_graph_queries_and_topological_order() -> None:
    with DAG("graph") as d:
        c = EmptyOperator(task_id="c")
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        side = EmptyOperator(task_id="side")
        a >> b >> c
    assert d.task_ids == ["c", "a", "b", "side"]
    assert d.task_dict["a"] is a
    assert d.get_task("b") is b
    assert d.has_task("side")
    assert not d.has_task("nope")
    with pytest.raises(KeyError, match="'nope' not found in DAG 'graph'"):
        d.get_task("nope")
    assert [t.task_id for t in d.roots] == ["a", "side"]
    assert [t.task_id for t in d.leaves] == ["c", "side"]
    assert [t.task_id for t in d.topological_sort()] == ["a", "b", "c", "side"]
    assert a.get_flat_relative_ids(upstream=False) == {"b", "c"}
    assert c.get_flat_relative_ids(upstream=True) == {"a", "b"}
    assert side.dag is d


def test_cycle_is_reported_with_its_path_and_the_line_that_closed_it() -> None:
    lines: list[int] = []

    def build() -> None:
        with DAG("cyclic"):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> b >> c
            lines.append(next_line())
            c >> a

    with pytest.raises(AirflowDagCycleException) as info:
        build()
    (line,) = lines
    error = info.value
    assert error.cycle in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
    assert "Cycle detected in DAG 'cyclic'" in str(error)
    assert (error.filename, error.lineno) == (__file__, line)


def test_self_dependency_is_a_cycle() -> None:
    def build() -> None:
        with DAG("selfish"):
            a = EmptyOperator(task_id="a")
            a >> a

    with pytest.raises(AirflowDagCycleException, match="a >> a"):
        build()


def test_duplicate_task_id_names_the_second_definition() -> None:
    with DAG("dups"):
        EmptyOperator(task_id="same")
        line = next_line() + 1
        with pytest.raises(DuplicateTaskIdFound, match="'same' has already been added") as info:
            EmptyOperator(task_id="same")
    assert (info.value.filename, info.value.lineno) == (__file__, line)


def test_bad_schedule_points_at_the_dag_line() -> None:
    line = next_line() + 1
    with pytest.raises(DagDefinitionError, match="invalid schedule") as info:
        DAG("bad", schedule="not a cron", start_date=START)
    assert (info.value.filename, info.value.lineno) == (__file__, line)


def test_unknown_preset_is_rejected() -> None:
    with pytest.raises(DagDefinitionError, match="unknown schedule preset '@sometimes'"):
        DAG("bad", schedule="@sometimes", start_date=START)


def test_scheduled_dag_without_start_date_fails_validation() -> None:
    lines: list[int] = []

    def build() -> None:
        lines.append(next_line())
        with DAG("nostart", schedule="@daily"):
            EmptyOperator(task_id="t")

    with pytest.raises(DagDefinitionError, match="needs a start_date") as info:
        build()
    (line,) = lines
    assert (info.value.filename, info.value.lineno) == (__file__, line)


def test_unscheduled_dag_needs_no_start_date() -> None:
    with DAG("manual", schedule=None):
        EmptyOperator(task_id="t")


def test_params_failing_their_schema_fail_validation() -> None:
    def build() -> None:
        with DAG("p", params={"count": Param("three", type="integer")}):
            EmptyOperator(task_id="t")

    with pytest.raises(ParamValidationError, match=r"test_dag.py:\d+: DAG 'p'.*'count'"):
        build()


def test_scheduled_dag_needs_defaults_for_every_param() -> None:
    with pytest.raises(ParamValidationError, match="no default value"):
        DAG(
            "p", schedule="@daily", start_date=START, params={"who": Param(type="string")}
        ).validate()
    # The same param is fine when runs are only triggered (the trigger supplies it).
    DAG("q", schedule=None, params={"who": Param(type="string")}).validate()


def test_no_validation_when_the_with_block_raises() -> None:
    with pytest.raises(RuntimeError, match="user error"), DAG("broken", schedule="@daily"):
        raise RuntimeError("user error")


def test_dag_decorator_builds_and_validates() -> None:
    @dag(schedule="@daily", start_date=START, tags=["x"])
    def nightly(limit: int = 10) -> None:
        """Nightly *job*."""
        EmptyOperator(task_id="t")

    built = nightly()
    assert isinstance(built, DAG)
    assert built.dag_id == "nightly"
    assert built.doc_md == "Nightly *job*."
    assert built.tags == ["x"]
    assert built.params["limit"] == 10
    assert built.fileloc == __file__
    assert built.task_ids == ["t"]
    assert nightly(limit=3).params["limit"] == 3


def test_dag_decorator_validates_when_the_function_returns() -> None:
    @dag(dag_id="cyclic_decorated")
    def build() -> None:
        a = EmptyOperator(task_id="a")
        a >> a

    with pytest.raises(AirflowDagCycleException):
        build()


def test_capture_dags_collects_every_dag_built_inside() -> None:
    with capture_dags() as found:
        first = DAG("one")
        with DAG("two") as second:
            EmptyOperator(task_id="t")
    DAG("outside")
    assert found == [first, second]


def test_invalid_dag_id() -> None:
    with pytest.raises(DagDefinitionError, match="alphanumeric"):
        DAG("bad id!")
