"""PythonOperator and the branching operators, executed for real."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_sc.sdk import (
    DAG,
    AirflowException,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
)
from airflow_sc.sdk.operators.python import callable_kwargs

CONTEXT: dict[str, Any] = {"ds": "2024-01-01", "run_id": "r1", "params": {"p": 1}, "ti": "TI"}


def test_callable_gets_only_the_context_keys_it_names() -> None:
    seen: dict[str, Any] = {}

    def wants_ds(ds: str, extra: int) -> str:
        seen.update(ds=ds, extra=extra)
        return "done"

    op = PythonOperator(task_id="t", python_callable=wants_ds, op_kwargs={"extra": 5})
    assert op.execute(CONTEXT) == "done"
    assert seen == {"ds": "2024-01-01", "extra": 5}


def test_callable_with_var_kwargs_gets_the_whole_context() -> None:
    def wants_all(**kwargs: Any) -> set[str]:
        return set(kwargs)

    op = PythonOperator(task_id="t", python_callable=wants_all)
    assert op.execute(CONTEXT) >= {"ds", "run_id", "params", "ti", "templates_dict"}


def test_op_args_fill_positions_and_op_kwargs_override_context() -> None:
    def f(a: int, b: int, run_id: str) -> tuple[int, int, str]:
        return a, b, run_id

    op = PythonOperator(
        task_id="t", python_callable=f, op_args=[1, 2], op_kwargs={"run_id": "mine"}
    )
    assert op.execute(CONTEXT) == (1, 2, "mine")


def test_positional_argument_named_like_a_context_key_is_reserved() -> None:
    def f(ds: str) -> str:
        return ds

    with pytest.raises(ValueError, match="The key 'ds' in args is a part of kwargs"):
        callable_kwargs(f, ["x"], CONTEXT)


def test_templates_dict_is_passed_when_asked_for() -> None:
    def f(templates_dict: dict[str, str]) -> str:
        return templates_dict["q"]

    op = PythonOperator(task_id="t", python_callable=f, templates_dict={"q": "{{ ds }}"})
    op.render_template_fields(CONTEXT)
    assert op.execute(CONTEXT) == "2024-01-01"


def test_non_callable_is_rejected() -> None:
    with pytest.raises(ValueError, match="python_callable must be callable"):
        PythonOperator(task_id="t", python_callable="nope")  # type: ignore[arg-type]


def branching_dag(choice: Any) -> DAG:
    with DAG("branching") as d:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        left = EmptyOperator(task_id="left")
        right = EmptyOperator(task_id="right")
        with TaskGroup("grp"):
            g1 = EmptyOperator(task_id="g1")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        branch >> [left, right, g1]
        [left, right, g1] >> join
        branch >> join
    return d


@pytest.mark.parametrize(
    ("choice", "skip", "follow"),
    [
        ("left", {"right", "grp.g1"}, {"left"}),
        (["left", "right"], {"grp.g1"}, {"left", "right"}),
        ("grp", {"left", "right"}, {"grp.g1"}),  # a group id follows its roots
        (None, {"left", "right", "grp.g1", "join"}, set()),
    ],
)
def test_branch_skips_unchosen_direct_downstream_tasks_but_not_the_join(
    choice: Any, skip: set[str], follow: set[str]
) -> None:
    d = branching_dag(choice)
    decision = d.get_task("branch").execute({})
    assert decision.skip == skip
    assert decision.follow == follow
    assert decision.return_value == choice


def test_branch_to_an_unknown_task_fails() -> None:
    d = branching_dag("nowhere")
    with pytest.raises(AirflowException, match=r"neither tasks nor task groups.*\['nowhere'\]"):
        d.get_task("branch").execute({})


@pytest.mark.parametrize(
    ("ignore_rules", "skip"),
    [(True, {"a", "b"}), (False, {"a"})],
)
def test_short_circuit_falsy_skips_downstream(ignore_rules: bool, skip: set[str]) -> None:
    with DAG("short") as d:
        gate = ShortCircuitOperator(
            task_id="gate",
            python_callable=lambda: 0,
            ignore_downstream_trigger_rules=ignore_rules,
        )
        gate >> EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    decision = d.get_task("gate").execute({})
    assert decision.skip == skip
    assert decision.return_value == 0


def test_short_circuit_truthy_skips_nothing() -> None:
    with DAG("short") as d:
        gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: "yes")
        gate >> EmptyOperator(task_id="a")
    decision = d.get_task("gate").execute({})
    assert decision.skip == frozenset()
    assert decision.follow == {"a"}
    assert decision.return_value == "yes"
