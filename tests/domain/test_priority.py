"""Effective priority weights under Airflow's weight rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.domain import WeightRule
from airflow_sc.domain.priority import PRIORITY_MAX, TaskWeight, priority_weights

CHAIN = {"a": {"b"}, "b": {"c"}}
DIAMOND = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}


def same(rule: WeightRule, *ids: str, weight: int = 1) -> dict[str, TaskWeight]:
    return {task_id: TaskWeight(weight, rule) for task_id in ids}


@pytest.mark.parametrize(
    ("tasks", "graph", "expected"),
    [
        (same(WeightRule.DOWNSTREAM, "a", "b", "c"), CHAIN, {"a": 3, "b": 2, "c": 1}),
        (same(WeightRule.UPSTREAM, "a", "b", "c"), CHAIN, {"a": 1, "b": 2, "c": 3}),
        (same(WeightRule.ABSOLUTE, "a", "b", "c", weight=7), CHAIN, {"a": 7, "b": 7, "c": 7}),
        # A task reachable by two paths counts once.
        (
            same(WeightRule.DOWNSTREAM, "a", "b", "c", "d"),
            DIAMOND,
            {"a": 4, "b": 2, "c": 2, "d": 1},
        ),
        (same(WeightRule.UPSTREAM, "a", "b", "c", "d"), DIAMOND, {"a": 1, "b": 2, "c": 2, "d": 4}),
        # Rules are per task; relatives contribute their own priority_weight, not their total.
        (
            {
                "a": TaskWeight(1, WeightRule.DOWNSTREAM),
                "b": TaskWeight(10, WeightRule.ABSOLUTE),
                "c": TaskWeight(100, WeightRule.UPSTREAM),
            },
            CHAIN,
            {"a": 111, "b": 10, "c": 111},
        ),
        (
            {"big": TaskWeight(2**31 - 1), "x": TaskWeight(5)},
            {"big": {"x"}},
            {"big": PRIORITY_MAX, "x": 5},
        ),
    ],
)
def test_weight_rules(
    tasks: dict[str, TaskWeight], graph: dict[str, set[str]], expected: dict[str, int]
) -> None:
    assert priority_weights(tasks, graph) == expected


def test_cycles_and_unknown_tasks_are_rejected() -> None:
    with pytest.raises(ValueError, match="cycle"):
        priority_weights(same(WeightRule.DOWNSTREAM, "a", "b"), {"a": {"b"}, "b": {"a"}})
    with pytest.raises(ValueError, match="unknown"):
        priority_weights(same(WeightRule.DOWNSTREAM, "a"), {"a": {"ghost"}})


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    n = 5000
    ids = [f"t{i}" for i in range(n)]
    graph = {ids[i]: {ids[i + 1]} for i in range(n - 1)}
    weights = priority_weights(same(WeightRule.DOWNSTREAM, *ids), graph)
    assert weights["t0"] == n
    assert weights[ids[-1]] == 1


@st.composite
def dags(draw: st.DrawFn) -> tuple[dict[str, TaskWeight], dict[str, set[str]]]:
    n = draw(st.integers(1, 12))
    ids = [f"t{i}" for i in range(n)]
    # Edges only go from lower to higher index: always acyclic.
    graph = {ids[i]: {ids[j] for j in range(i + 1, n) if draw(st.booleans())} for i in range(n)}
    rule = draw(st.sampled_from(list(WeightRule)))
    tasks = {t: TaskWeight(draw(st.integers(0, 50)), rule) for t in ids}
    return tasks, graph


@settings(max_examples=150, deadline=None)
@given(dag=dags())
def test_weights_dominate_their_neighbours(
    dag: tuple[dict[str, TaskWeight], dict[str, set[str]]],
) -> None:
    tasks, graph = dag
    weights = priority_weights(tasks, graph)
    for parent, children in graph.items():
        for child in children:
            rule = tasks[parent].weight_rule
            if rule is WeightRule.DOWNSTREAM:
                assert weights[parent] >= weights[child] + tasks[parent].priority_weight
            elif rule is WeightRule.UPSTREAM:
                assert weights[child] >= weights[parent] + tasks[child].priority_weight
    for task_id, task in tasks.items():
        if task.weight_rule is WeightRule.ABSOLUTE:
            assert weights[task_id] == task.priority_weight
