"""Which executor a task runs on: one rule, no fallback."""

from __future__ import annotations

import pytest

from airflow_sc.config.settings import ExecutorSettings
from airflow_sc.executors.routing import ExecutorRouting, UnknownExecutor, configured_executors

BOTH = ExecutorRouting.from_settings(ExecutorSettings())


def test_the_configured_executors_are_the_ones_the_scheduler_builds() -> None:
    assert configured_executors(ExecutorSettings()) == {"local", "inprocess"}
    assert configured_executors(ExecutorSettings(inprocess_enabled=False)) == {"local"}


def test_a_task_runs_where_its_executor_argument_says() -> None:
    assert BOTH.executor_for(dag_id="d", task_id="t", named="local", is_async=True) == "local"


def test_async_tasks_default_to_the_inprocess_executor_when_enabled() -> None:
    assert BOTH.executor_for(dag_id="d", task_id="t", named=None, is_async=True) == "inprocess"
    disabled = ExecutorRouting.from_settings(ExecutorSettings(inprocess_enabled=False))
    assert disabled.executor_for(dag_id="d", task_id="t", named=None, is_async=True) == "local"


def test_sync_tasks_go_to_the_default_executor() -> None:
    assert BOTH.executor_for(dag_id="d", task_id="t", named=None, is_async=False) == "local"
    inprocess = ExecutorRouting.from_settings(ExecutorSettings(default="inprocess"))
    assert inprocess.executor_for(dag_id="d", task_id="t", named=None, is_async=False) == (
        "inprocess"
    )


def test_an_executor_the_deployment_does_not_run_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownExecutor) as info:
        BOTH.executor_for(dag_id="etl", task_id="load", named="celery", is_async=False)
    assert str(info.value) == (
        "task 'load' of DAG 'etl' asks for executor 'celery'; this deployment runs inprocess, local"
    )
    assert BOTH.unknown_executors("etl", [("a", None), ("b", "local"), ("load", "celery")]) == [
        str(info.value)
    ]


def test_a_default_the_deployment_does_not_run_fails_at_start() -> None:
    with pytest.raises(ValueError, match="default executor 'inprocess'"):
        ExecutorRouting.from_settings(
            ExecutorSettings(default="inprocess", inprocess_enabled=False)
        )
