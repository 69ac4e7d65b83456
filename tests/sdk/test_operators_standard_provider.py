"""The rest of Airflow's standard provider: branch operators and other interpreters."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.scheduler.dag_test import DagTestResult, manual_run_info, run_dag_test
from airflow_sc.sdk import DAG, BashOperator, EmptyOperator, dag, task
from airflow_sc.sdk.exceptions import DagDefinitionError
from airflow_sc.sdk.operators.branch import BaseBranchOperator
from airflow_sc.sdk.operators.datetime import BranchDateTimeOperator
from airflow_sc.sdk.operators.python_virtualenv import (
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from airflow_sc.sdk.operators.weekday import BranchDayOfWeekOperator
from airflow_sc.sdk.weekday import WeekDay

TI = TaskInstanceState
FRIDAY_NOON = dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC)


def run(the_dag: DAG, logical_date: dt.datetime = FRIDAY_NOON) -> DagTestResult:
    info = manual_run_info(the_dag, logical_date=logical_date, now=FRIDAY_NOON)
    return run_dag_test(the_dag, info, out=lambda _: None)


def states(result: DagTestResult) -> dict[str, TaskInstanceState | None]:
    return {task_id: r.state for task_id, r in result.tasks.items()}


def test_base_branch_operator_follows_what_choose_branch_returns() -> None:
    class ByConf(BaseBranchOperator):
        def choose_branch(self, context: Any) -> str:
            return "small" if context["params"]["rows"] < 10 else "large"

    with DAG("b", schedule=None, start_date=FRIDAY_NOON, params={"rows": 3}) as the_dag:
        ByConf(task_id="pick") >> [EmptyOperator(task_id="small"), EmptyOperator(task_id="large")]
    assert states(run(the_dag)) == {"pick": TI.SUCCESS, "small": TI.SUCCESS, "large": TI.SKIPPED}


@pytest.mark.parametrize(
    ("lower", "upper", "now", "expected"),
    [
        (dt.time(9), dt.time(17), dt.datetime(2026, 3, 6, 12, tzinfo=dt.UTC), "inside"),
        (dt.time(9), dt.time(17), dt.datetime(2026, 3, 6, 18, tzinfo=dt.UTC), "outside"),
        # A window across midnight: 22:00 -> 02:00 the next day.
        (dt.time(22), dt.time(2), dt.datetime(2026, 3, 6, 23, tzinfo=dt.UTC), "inside"),
        (None, dt.time(8), dt.datetime(2026, 3, 6, 8, tzinfo=dt.UTC), "inside"),
        (
            dt.datetime(2026, 3, 7, tzinfo=dt.UTC),
            None,
            dt.datetime(2026, 3, 6, 23, tzinfo=dt.UTC),
            "outside",
        ),
    ],
)
def test_branch_date_time_operator_compares_with_the_window(
    lower: Any, upper: Any, now: dt.datetime, expected: str
) -> None:
    with DAG("dt", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        BranchDateTimeOperator(
            task_id="when",
            follow_task_ids_if_true="inside",
            follow_task_ids_if_false="outside",
            target_lower=lower,
            target_upper=upper,
            clock=lambda: now,
        ) >> [EmptyOperator(task_id="inside"), EmptyOperator(task_id="outside")]
    result = states(run(the_dag))
    other = "outside" if expected == "inside" else "inside"
    assert (result[expected], result[other]) == (TI.SUCCESS, TI.SKIPPED)


def test_branch_date_time_operator_can_use_the_logical_date_and_needs_a_bound() -> None:
    with DAG("dt2", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        BranchDateTimeOperator(
            task_id="when",
            follow_task_ids_if_true="in_march",
            follow_task_ids_if_false="not_march",
            target_lower=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            target_upper=dt.datetime(2026, 3, 31, tzinfo=dt.UTC),
            use_task_logical_date=True,
            clock=lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        ) >> [EmptyOperator(task_id="in_march"), EmptyOperator(task_id="not_march")]
        with pytest.raises(DagDefinitionError, match="At least one must be defined"):
            BranchDateTimeOperator(
                task_id="bad", follow_task_ids_if_true="a", follow_task_ids_if_false="b"
            )
    assert states(run(the_dag))["in_march"] is TI.SUCCESS


def test_branch_day_of_week_operator_in_the_dag_timezone() -> None:
    # Friday 23:30 UTC is already Saturday in Tokyo.
    late_friday = dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC)
    import zoneinfo

    tokyo = dt.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    with DAG("wd", schedule=None, start_date=tokyo) as the_dag:
        BranchDayOfWeekOperator(
            task_id="weekend",
            follow_task_ids_if_true="rest",
            follow_task_ids_if_false="work",
            week_day={WeekDay.SATURDAY, "sunday"},
            clock=lambda: late_friday,
        ) >> [EmptyOperator(task_id="rest"), EmptyOperator(task_id="work")]
        with pytest.raises(DagDefinitionError, match="Invalid Week Day"):
            BranchDayOfWeekOperator(
                task_id="bad",
                follow_task_ids_if_true="rest",
                follow_task_ids_if_false="work",
                week_day="Caturday",
            )
    assert states(run(the_dag))["rest"] is TI.SUCCESS


def test_external_python_runs_the_callable_in_another_interpreter(tmp_path: Path) -> None:
    def where(prefix: str, ds: Any = None) -> str:
        import sys

        return f"{prefix} {ds} {sys.executable}"

    with DAG("ext", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        ExternalPythonOperator(
            task_id="where", python=sys.executable, python_callable=where, op_args=["ran"]
        )
        ExternalPythonOperator(
            task_id="missing", python=str(tmp_path / "python9"), python_callable=where
        )
    result = run(the_dag)
    assert result.tasks["where"].return_value == f"ran 2026-03-06 {sys.executable}"
    assert result.tasks["missing"].state is TI.FAILED
    assert "does not exist" in (result.tasks["missing"].error or "")


def test_a_callable_that_exits_with_a_skip_code_skips_and_errors_fail() -> None:
    def leave() -> None:
        import sys

        sys.exit(42)

    def crash() -> None:
        raise ValueError("bad input")

    with DAG("codes", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        ExternalPythonOperator(
            task_id="leave", python=sys.executable, python_callable=leave, skip_on_exit_code=42
        )
        ExternalPythonOperator(task_id="crash", python=sys.executable, python_callable=crash)
    result = run(the_dag)
    assert states(result) == {"leave": TI.SKIPPED, "crash": TI.FAILED}


@pytest.mark.slow
def test_virtualenv_tasks_install_requirements_once_and_reuse_the_environment(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "venvs"

    def version() -> str:
        import six

        return str(six.__version__)

    def pick() -> str:
        return "left"

    @dag(schedule=None, start_date=FRIDAY_NOON)
    def venvs() -> None:
        @task.virtualenv(
            requirements=["six==1.16.0"], system_site_packages=False, venv_cache_path=cache
        )
        def decorated() -> str:
            import six

            return str(six.__version__)

        decorated()
        PythonVirtualenvOperator(
            task_id="classic",
            python_callable=version,
            requirements=["six==1.16.0"],
            system_site_packages=False,
            venv_cache_path=cache,
        )
        BranchPythonVirtualenvOperator(
            task_id="branch", python_callable=pick, venv_cache_path=cache
        ) >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]

    result = run(venvs())
    assert {t: r.return_value for t, r in result.tasks.items() if r.return_value} == {
        "decorated": "1.16.0",
        "classic": "1.16.0",
        "branch": "left",
    }
    assert result.tasks["right"].state is TI.SKIPPED
    # One environment per set of requirements: the two six tasks shared theirs.
    built = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(built) == 2


def test_async_callables_cannot_run_in_another_interpreter() -> None:
    async def later() -> None:
        return None

    with DAG("a", schedule=None, start_date=FRIDAY_NOON), pytest.raises(DagDefinitionError):
        ExternalPythonOperator(task_id="x", python=sys.executable, python_callable=later)


def test_bash_output_processor_turns_the_last_line_into_the_result() -> None:
    with DAG("bash", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        BashOperator(
            task_id="count",
            bash_command="echo 'a b'; echo '{\"rows\": 3}'",
            output_processor=lambda line: __import__("json").loads(line)["rows"],
        )
    assert run(the_dag).tasks["count"].return_value == 3


def test_string_args_environment_and_serializer_of_another_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FROM_WORKER", "inherited")

    def show() -> str:
        import os

        args = virtualenv_string_args  # type: ignore[name-defined]  # noqa: F821
        return f"{args} {os.environ.get('FROM_WORKER')} {os.environ.get('EXTRA')}"

    with DAG("env", schedule=None, start_date=FRIDAY_NOON) as the_dag:
        ExternalPythonOperator(
            task_id="inherit",
            python=sys.executable,
            python_callable=show,
            string_args=["a", "b"],
            env_vars={"EXTRA": "{{ ds }}"},
        )
        ExternalPythonOperator(
            task_id="clean",
            python=sys.executable,
            python_callable=show,
            inherit_env=False,
            env_vars={"EXTRA": "x"},
        )
        ExternalPythonOperator(
            task_id="dill", python=sys.executable, python_callable=show, serializer="dill"
        )
        with pytest.raises(DagDefinitionError, match="serializer must be one of"):
            ExternalPythonOperator(
                task_id="bad", python=sys.executable, python_callable=show, serializer="json"
            )
    result = run(the_dag)
    assert result.tasks["inherit"].return_value == "['a', 'b'] inherited 2026-03-06"
    assert result.tasks["clean"].return_value == "[] None x"
    assert result.tasks["dill"].state is TI.FAILED
    assert "serializer 'dill' is not installed" in (result.tasks["dill"].error or "")
