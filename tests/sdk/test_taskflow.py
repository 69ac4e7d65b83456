"""TaskFlow: decorated functions become tasks; their outputs wire the dependencies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from airflow_sc.sdk import DAG, EmptyOperator, XComArg, dag, task
from airflow_sc.sdk.context import RunInfo
from airflow_sc.sdk.skipping import SkipDecision
from airflow_sc.sdk.xcom_arg import DagParam, iter_xcom_args, resolve_references


@task
def extract() -> dict[str, int]:
    return {"a": 1, "b": 2}


@task
def total(values: dict[str, int]) -> int:
    return sum(values.values())


@task(multiple_outputs=False, retries=4)
def report(value: int, note: str = "") -> str:
    return f"{value}{note}"


def test_passing_an_output_creates_the_dependency() -> None:
    with DAG("flow") as d:
        data = extract()
        result = total(data)
    assert isinstance(data, XComArg)
    assert d.task_ids == ["extract", "total"]
    assert d.get_task("total").upstream_task_ids == {"extract"}
    assert result.operator.op_args == [data]


def test_nested_outputs_in_containers_create_dependencies() -> None:
    with DAG("flow") as d:
        a = extract()
        b = extract()
        report(1, note={"x": [a, b]})  # type: ignore[arg-type]
    assert d.get_task("report").upstream_task_ids == {"extract", "extract__1"}


def test_multiple_outputs_is_inferred_from_a_dict_return_annotation() -> None:
    with DAG("flow"):
        assert extract().operator.multiple_outputs is True
        assert total({}).operator.multiple_outputs is False
        assert report(1).operator.multiple_outputs is False


def test_key_access_on_an_output_refers_to_that_xcom_key() -> None:
    with DAG("flow") as d:
        data = extract()
        only_a = report(data["a"])  # type: ignore[arg-type]
    (ref,) = iter_xcom_args(only_a.operator.op_args)
    assert (ref.operator.task_id, ref.key) == ("extract", "a")
    assert d.get_task("report").upstream_task_ids == {"extract"}


def test_repeated_calls_get_deduplicated_ids() -> None:
    with DAG("flow") as d:
        for _ in range(3):
            extract()
        extract.override(task_id="extract__1")()  # explicit collision also dedups
    assert d.task_ids == ["extract", "extract__1", "extract__2", "extract__3"]


def test_override_changes_operator_arguments() -> None:
    with DAG("flow") as d:
        report.override(task_id="custom", retries=1, pool="small")(2)
        report(3)
    custom = d.get_task("custom")
    assert (custom.retries, custom.pool) == (1, "small")
    assert d.get_task("report").retries == 4


def test_decorator_arguments_and_default_args_apply() -> None:
    with DAG("flow", default_args={"owner": "team", "retries": 2}) as d:
        total({})
        report(1)
    assert d.get_task("total").owner == "team"
    assert d.get_task("total").retries == 2
    assert d.get_task("report").retries == 4  # the decorator's argument is explicit


def test_docstring_becomes_doc_md() -> None:
    @task
    def documented() -> None:
        """Explains itself."""

    with DAG("flow"):
        assert documented().operator.doc_md == "Explains itself."


def test_missing_arguments_fail_at_parse_time() -> None:
    with DAG("flow"), pytest.raises(TypeError, match=r"total\(\) missing required arguments"):
        total()


def test_context_arguments_may_be_left_out() -> None:
    @task
    def uses_context(value: int, ti: Any, logical_date: dt.datetime) -> int:
        return value

    with DAG("flow"):
        out = uses_context(1)
    context = {"ti": "the ti", "logical_date": dt.datetime(2024, 1, 1), "params": {}}
    assert out.operator.execute(context) == 1


def test_execute_calls_the_function_with_resolved_references() -> None:
    with DAG("flow"):
        result = total(extract())
    op = result.operator
    pulled = {("extract", "return_value"): {"a": 5, "b": 6}}
    op.resolve_template_references(pull=lambda t, k: pulled[(t, k)], params={})
    assert op.execute({}) == 11


def test_dag_function_arguments_become_params_and_resolve_at_run_time() -> None:
    @dag(schedule=None)
    def with_params(multiplier: int = 3) -> None:
        report(multiplier)

    built = with_params()
    op = built.get_task("report")
    (ref,) = op.op_args
    assert isinstance(ref, DagParam)
    assert resolve_references(op.op_args, pull=lambda t, k: None, params={"multiplier": 7}) == [7]
    assert built.params["multiplier"] == 3


def test_async_functions_make_async_tasks() -> None:
    @task
    async def fetch(n: int) -> int:
        await anyio.lowlevel.checkpoint()
        return n * 2

    with DAG("flow"):
        op = fetch(21).operator
    assert op.is_async is True
    # Outside an event loop (a sync worker), execute runs it on a private loop.
    assert op.execute({}) == 42


@pytest.mark.anyio
async def test_async_task_is_awaited_by_aexecute() -> None:
    @task
    async def fetch(n: int) -> int:
        await anyio.lowlevel.checkpoint()
        return n + 1

    with DAG("flow"):
        op = fetch(1).operator
    assert await op.aexecute({}) == 2


def test_task_branch_decides_which_downstream_tasks_skip() -> None:
    @task.branch
    def choose(flag: bool) -> str:
        return "left" if flag else "right"

    with DAG("branching") as d:
        decision = choose(True)
        decision >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]
    result = d.get_task("choose").execute({})
    assert result == SkipDecision("left", frozenset({"right"}), frozenset({"left"}))


def test_task_short_circuit_skips_everything_downstream_when_falsy() -> None:
    @task.short_circuit
    def is_weekday() -> bool:
        return False

    with DAG("short") as d:
        gate = is_weekday()
        gate >> EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    result = d.get_task("is_weekday").execute({})
    assert result.skip == {"a", "b"}
    assert result.return_value is False


def test_task_bash_runs_the_returned_command(tmp_path: Any) -> None:
    @task.bash(cwd=str(tmp_path))
    def greet(name: str) -> str:
        return f"echo hello {name} from $(basename $PWD) {{{{ params.suffix }}}}"

    with DAG("bash_flow") as d:
        greet("ada")
    op = d.get_task("greet")
    run = RunInfo(run_id="r", run_after=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert op.execute({"params": {"suffix": "!"}, "dag_run": run}) == (
        f"hello ada from {tmp_path.name} !"
    )


def test_task_bash_rejects_an_empty_command() -> None:
    @task.bash
    def nothing() -> str:
        return "  "

    with DAG("bash_flow"):
        op = nothing().operator
    with pytest.raises(TypeError, match="must return a non-empty string"):
        op.execute({})


def test_task_outside_any_dag_has_no_dag() -> None:
    out = total({})
    assert out.operator.has_dag() is False


def test_outputs_in_classic_operator_arguments_create_dependencies() -> None:
    from airflow_sc.sdk import BashOperator

    with DAG("mixed") as d:
        produced = extract()
        BashOperator(task_id="show", bash_command=produced["a"])
        EmptyOperator(task_id="after") << produced
    assert d.get_task("show").upstream_task_ids == {"extract"}
    assert d.get_task("after").upstream_task_ids == {"extract"}
    show = d.get_task("show")
    show.resolve_template_references(pull=lambda t, k: f"echo {t}.{k}", params={})
    assert show.execute({}) == "extract.a"


def test_output_property_refers_to_the_return_value() -> None:
    with DAG("mixed") as d:
        first = EmptyOperator(task_id="first")
        total(first.output)
    assert first.output == XComArg(first)
    assert d.get_task("total").upstream_task_ids == {"first"}
