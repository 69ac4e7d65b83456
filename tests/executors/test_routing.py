"""Which executor a task runs on."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_sc.config.settings import ExecutorSettings
from airflow_sc.executors.routing import UnknownExecutor, executor_name, route_workloads
from tests.executors.world import workload

BOTH = ("local", "inprocess")


def test_a_task_runs_where_its_executor_argument_says() -> None:
    named = dataclasses.replace(workload("1", "succeed", is_async=True), executor="local")
    assert executor_name(named, ExecutorSettings(), BOTH) == "local"


def test_async_tasks_default_to_the_inprocess_executor_when_enabled() -> None:
    async_task = workload("1", "nap", is_async=True)
    assert executor_name(async_task, ExecutorSettings(), BOTH) == "inprocess"
    disabled = ExecutorSettings(inprocess_enabled=False)
    assert executor_name(async_task, disabled, BOTH) == "local"


def test_sync_tasks_go_to_the_default_executor() -> None:
    sync_task = workload("1", "succeed")
    assert executor_name(sync_task, ExecutorSettings(), BOTH) == "local"
    assert executor_name(sync_task, ExecutorSettings(default="inprocess"), BOTH) == "inprocess"


def test_an_executor_the_deployment_does_not_run_is_an_error_naming_it() -> None:
    named = dataclasses.replace(workload("1", "succeed"), executor="celery")
    with pytest.raises(UnknownExecutor, match="'celery'"):
        executor_name(named, ExecutorSettings(), BOTH)


def test_route_groups_workloads_by_executor_in_order() -> None:
    items = [workload("1", "a"), workload("2", "b", is_async=True), workload("3", "c")]
    routed = route_workloads(items, ExecutorSettings(), BOTH)
    assert {name: [w.ti_id for w in group] for name, group in routed.items()} == {
        "local": ["1", "3"],
        "inprocess": ["2"],
    }
