"""Priority weight strategies: registered by plugins, refused otherwise, asked by the
scheduler for each new task instance, never able to stop it."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_sc.domain.task_rules import WeightRule
from airflow_sc.scheduler.custom_weights import custom_weight
from airflow_sc.scheduler.stages.start_runs import task_instance_rows
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.sdk.exceptions import DagDefinitionError
from airflow_sc.sdk.priority_strategy import (
    PriorityWeightStrategy,
    forget_strategies,
    register_priority_weight_strategy,
)
from airflow_sc.serialization.encode import encode_dag
from airflow_sc.serialization.spec import DagSpec

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)


def noop() -> None:
    return None


class ByRetries(PriorityWeightStrategy):
    """Tasks allowed more retries are worth more: factor x (retries + 1)."""

    def __init__(self, factor: int = 1) -> None:
        self.factor = factor

    def serialize(self) -> dict[str, Any]:
        return {"factor": self.factor}

    def get_weight(self, ti: Any) -> int:
        assert (ti.try_number, ti.map_index) == (0, -1)
        return self.factor * (ti.task.retries + 1)


class Raising(PriorityWeightStrategy):
    def get_weight(self, ti: Any) -> int:
        raise RuntimeError("the strategy broke")


class Wordy(PriorityWeightStrategy):
    def get_weight(self, ti: Any) -> int:
        return "high"  # type: ignore[return-value]


class Unregistered(PriorityWeightStrategy):
    def get_weight(self, ti: Any) -> int:
        return 1


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    for cls in (ByRetries, Raising, Wordy):
        register_priority_weight_strategy(cls)
    yield
    forget_strategies()


def spec_of(**weights: Any) -> DagSpec:
    with DAG("weighed", schedule=None, start_date=START) as dag:
        tasks = [
            PythonOperator(task_id=task_id, python_callable=noop, retries=2, weight_rule=rule)
            for task_id, rule in weights.items()
        ]
        for upstream, downstream in itertools.pairwise(tasks):
            upstream >> downstream
    return DagSpec.from_dict(encode_dag(dag))


def weights(spec: DagSpec) -> dict[str, int]:
    return {
        row["task_id"]: row["priority_weight"] for row in task_instance_rows(spec, "r", now=NOW)
    }


def test_new_task_instances_take_the_strategy_weight() -> None:
    path = f"{ByRetries.__module__}.{ByRetries.__qualname__}"
    spec = spec_of(first=ByRetries(factor=10), second=path, third="downstream")
    assert spec.tasks["first"].weight_strategy == {"__type": path, "__var": {"factor": 10}}
    assert spec.tasks["first"].weight_rule is WeightRule.ABSOLUTE
    # 10 x 3; 1 x 3 (by path: the class's defaults); built-in rule: its own weight (1).
    assert weights(spec) == {"first": 30, "second": 3, "third": 1}


def test_a_strategy_that_cannot_answer_leaves_the_task_weight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = spec_of(raises=Raising(), wordy=Wordy(), gone=ByRetries(factor=5))
    forget_strategies()  # the plugin left the scheduler's plugins folder
    register_priority_weight_strategy(Raising)
    register_priority_weight_strategy(Wordy)
    with caplog.at_level(logging.WARNING):
        found = weights(spec)
    # Each falls back to its own priority_weight, 1 here (downstream sums don't apply).
    assert found == {"raises": 1, "wordy": 1, "gone": 1}
    text = caplog.text
    assert "raised (the strategy broke)" in text
    assert "returned no integer" in text
    assert "cannot be rebuilt" in text
    assert custom_weight(spec, spec.tasks["raises"], "r") is None


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (Unregistered(), "is not a registered priority weight strategy"),
        ("tests.nowhere.Strategy", "unknown weight_rule"),
        ("sideways", "unknown weight_rule"),
    ],
)
def test_a_strategy_no_plugin_registered_is_refused_at_parse_time(
    rule: object, reason: str
) -> None:
    with (
        DAG("refused", schedule=None, start_date=START),
        pytest.raises(DagDefinitionError, match=reason),
    ):
        PythonOperator(task_id="t", python_callable=noop, weight_rule=rule)  # type: ignore[arg-type]
