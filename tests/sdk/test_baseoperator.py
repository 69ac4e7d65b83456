"""BaseOperator arguments: defaults, default_args, validation errors at the user's line."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from airflow_sc.sdk import (
    DAG,
    BaseOperator,
    BashOperator,
    DagDefinitionError,
    EmptyOperator,
    TriggerRule,
    WeightRule,
)


def next_line() -> int:
    """The line number after the caller's line."""
    return sys._getframe(1).f_lineno + 1


class Greet(BaseOperator):
    template_fields = ("greeting",)

    def __init__(self, *, greeting: str = "hello", name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.greeting = greeting
        self.name = name

    def execute(self, context: Mapping[str, Any]) -> str:
        return f"{self.greeting} {self.name}"


def test_defaults_match_airflow() -> None:
    with DAG("defaults"):
        op = EmptyOperator(task_id="t")
    assert op.owner == "airflow"
    assert op.retries == 0
    assert op.retry_delay == dt.timedelta(minutes=5)
    assert op.trigger_rule is TriggerRule.ALL_SUCCESS
    assert op.weight_rule is WeightRule.DOWNSTREAM
    assert op.pool == "default_pool"
    assert op.pool_slots == 1
    assert op.priority_weight == 1
    assert op.queue == "default"
    assert op.execution_timeout is None
    assert op.do_xcom_push is True
    assert op.is_async is False


def test_dag_default_args_fill_missing_arguments_and_explicit_ones_win() -> None:
    args = {"retries": 3, "retry_delay": 10, "owner": "team", "name": "world", "pool": "etl"}
    with DAG("defaults", default_args=args) as d:
        implicit = Greet(task_id="implicit")
        explicit = Greet(task_id="explicit", retries=0, name="you")
    assert implicit.retries == 3
    assert implicit.retry_delay == dt.timedelta(seconds=10)
    assert implicit.owner == "team"
    assert implicit.pool == "etl"
    # default_args reach subclass arguments too
    assert implicit.name == "world"
    assert explicit.retries == 0
    assert explicit.name == "you"
    assert implicit.explicit_args == {"task_id"}
    assert d.get_task("explicit") is explicit


def test_operator_default_args_override_the_dags() -> None:
    with DAG("defaults", default_args={"retries": 3}):
        op = EmptyOperator(task_id="t", default_args={"retries": 7, "queue": "fast"})
    assert op.retries == 7
    assert op.queue == "fast"


def test_default_args_that_match_no_argument_are_ignored() -> None:
    with DAG("defaults", default_args={"not_an_argument": 1, "email_on_failure": True}):
        op = EmptyOperator(task_id="t")
    assert op.email_on_failure is True


def test_missing_required_argument_is_a_type_error() -> None:
    with DAG("required"), pytest.raises(TypeError, match="name"):
        Greet(task_id="t")


def test_positional_arguments_are_rejected() -> None:
    with pytest.raises(TypeError, match="keyword arguments only"):
        EmptyOperator("t")  # type: ignore[misc]


def test_unknown_arguments_are_rejected_with_the_task_id() -> None:
    with pytest.raises(TypeError, match=r"EmptyOperator \(task_id: t\).*'colour'"):
        EmptyOperator(task_id="t", colour="red")


def test_callbacks_are_normalised_to_lists() -> None:
    def one(context: Mapping[str, Any]) -> None: ...

    def two(context: Mapping[str, Any]) -> None: ...

    op = EmptyOperator(task_id="t", on_failure_callback=one, on_retry_callback=[one, two])
    assert op.on_failure_callback == [one]
    assert op.on_retry_callback == [one, two]
    assert op.on_success_callback == []


def test_wait_for_downstream_implies_depends_on_past() -> None:
    op = EmptyOperator(task_id="t", wait_for_downstream=True)
    assert op.depends_on_past is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger_rule": "sometimes"}, "unknown trigger_rule 'sometimes'; must be one of"),
        ({"weight_rule": "sideways"}, "unknown weight_rule 'sideways'"),
        ({"pool_slots": 0}, "pool_slots cannot be less than 1, got 0"),
        ({"retries": -1}, "retries cannot be negative, got -1"),
        ({"retries": "many"}, "retries must be an integer"),
        ({"execution_timeout": 30}, "execution_timeout must be a timedelta"),
    ],
)
def test_bad_arguments_fail_at_construction_with_file_and_line(
    kwargs: dict[str, Any], message: str
) -> None:
    line = next_line() + 1
    with DAG("validation"), pytest.raises(DagDefinitionError, match=message) as info:
        EmptyOperator(task_id="bad", **kwargs)
    assert info.value.filename == __file__
    assert info.value.lineno == line
    assert str(info.value).startswith(f"{__file__}:{line}: task 'bad':")


def test_every_airflow_trigger_rule_is_accepted() -> None:
    names = {
        "all_success",
        "all_failed",
        "all_done",
        "all_done_min_one_success",
        "all_skipped",
        "one_success",
        "one_failed",
        "one_done",
        "none_failed",
        "none_failed_min_one_success",
        "none_skipped",
        "always",
    }
    assert names <= {rule.value for rule in TriggerRule}
    with DAG("rules"):
        for name in sorted(names):
            assert EmptyOperator(task_id=name, trigger_rule=name).trigger_rule == name


def test_invalid_task_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="alphanumeric characters, dashes, dots"):
        EmptyOperator(task_id="no spaces")


def test_task_params_are_merged_over_dag_params() -> None:
    with DAG("params", params={"a": 1, "b": 2}):
        op = EmptyOperator(task_id="t", params={"b": 3})
    assert dict(op.params) == {"a": 1, "b": 3}


def test_templated_fields_render_with_the_dags_macros() -> None:
    with DAG("templates", user_defined_macros={"who": "ops"}):
        op = BashOperator(task_id="t", bash_command="echo {{ who }} {{ params.x }}")
    op.render_template_fields({"params": {"x": 1}})
    assert op.bash_command == "echo ops 1"


def test_subclass_execute_result() -> None:
    assert Greet(task_id="g", name="ada").execute({}) == "hello ada"
