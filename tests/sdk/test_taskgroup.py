"""Task groups: prefixed ids, nesting, dependencies to and from groups, `@task_group`."""

from __future__ import annotations

import pytest

from airflow_sc.sdk import (
    DAG,
    DuplicateTaskIdFound,
    EmptyOperator,
    TaskGroup,
    dag,
    task,
    task_group,
)


def edges(d: DAG) -> set[tuple[str, str]]:
    return {(t.task_id, x) for t in d.tasks for x in t.downstream_task_ids}


def test_tasks_in_groups_get_prefixed_ids_and_nesting_stacks_prefixes() -> None:
    with DAG("groups") as d:
        with TaskGroup("extract") as extract:
            EmptyOperator(task_id="users")
            with TaskGroup("nested") as nested:
                EmptyOperator(task_id="deep")
        EmptyOperator(task_id="top")
    assert d.task_ids == ["extract.users", "extract.nested.deep", "top"]
    assert extract.group_id == "extract"
    assert nested.group_id == "extract.nested"
    assert set(d.task_group_dict) == {"extract", "extract.nested"}
    assert d.get_task("extract.users").label == "users"
    assert d.get_task("extract.users").task_group is extract


def test_prefix_group_id_false_keeps_plain_ids() -> None:
    with DAG("groups") as d, TaskGroup("plain", prefix_group_id=False):
        EmptyOperator(task_id="a")
    assert d.task_ids == ["a"]


def test_edges_into_a_group_land_on_roots_and_leave_from_leaves() -> None:
    with DAG("groups") as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("work") as work:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> [b, c]
        end = EmptyOperator(task_id="end")
        start >> work >> end
    assert [t.task_id for t in work.roots] == ["work.a"]
    assert {t.task_id for t in work.leaves} == {"work.b", "work.c"}
    assert edges(d) == {
        ("start", "work.a"),
        ("work.a", "work.b"),
        ("work.a", "work.c"),
        ("work.b", "end"),
        ("work.c", "end"),
    }
    assert start.downstream_task_ids == {"work.a"}
    assert end.upstream_task_ids == {"work.b", "work.c"}


def test_group_default_args_apply_to_its_tasks_only() -> None:
    with DAG("groups", default_args={"retries": 1, "owner": "data"}) as d:
        with TaskGroup("fragile", default_args={"retries": 5}):
            EmptyOperator(task_id="inside")
        EmptyOperator(task_id="outside")
    assert d.get_task("fragile.inside").retries == 5
    assert d.get_task("fragile.inside").owner == "data"
    assert d.get_task("outside").retries == 1


def test_duplicate_group_id_is_an_error_with_its_line() -> None:
    with DAG("groups"):
        TaskGroup("same")
        with pytest.raises(DuplicateTaskIdFound, match="group_id 'same' has already") as info:
            TaskGroup("same")
    assert info.value.filename == __file__
    assert info.value.lineno is not None


def test_task_group_decorator_creates_a_group_per_call_with_suffixes() -> None:
    @task_group
    def load(table: str) -> None:
        """Load one table."""
        EmptyOperator(task_id=f"copy_{table}")

    with DAG("decorated") as d:
        first = load("users")
        second = load("orders")
    assert isinstance(first, TaskGroup)
    assert first.group_id == "load"
    assert second.group_id == "load__1"
    assert first.tooltip == "Load one table."
    assert d.task_ids == ["load.copy_users", "load__1.copy_orders"]


def test_task_group_returning_a_task_binds_dependencies_to_it() -> None:
    @task
    def produce() -> int:
        return 1

    @task
    def consume(value: int) -> int:
        return value

    @task_group(group_id="pipeline")
    def pipeline() -> object:
        return consume(produce())

    @dag(schedule=None)
    def uses_group() -> None:
        done = EmptyOperator(task_id="done")
        pipeline() >> done

    built = uses_group()
    assert built.get_task("done").upstream_task_ids == {"pipeline.consume"}
    assert built.get_task("pipeline.consume").upstream_task_ids == {"pipeline.produce"}


def test_task_group_override_changes_group_arguments() -> None:
    @task_group
    def section() -> None:
        EmptyOperator(task_id="x")

    with DAG("override") as d:
        section.override(group_id="renamed", prefix_group_id=False)()
    assert d.task_ids == ["x"]
    assert "renamed" in d.task_group_dict


def test_group_outside_a_dag_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be created inside a DAG"):
        TaskGroup("orphan")
