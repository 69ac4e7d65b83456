"""Effective priority weights of a DAG's tasks (Airflow's ``priority_weight_total``).

Computed once per DAG version (when the serialized DAG is stored) and copied onto each task
instance's ``priority_weight`` column, which the enqueue stage orders by. Weight rules:

- ``downstream`` (Airflow's default): own weight plus the weights of every task downstream,
  each counted once however many paths lead to it: tasks early in long chains go first.
- ``upstream``: own weight plus every task upstream: finish started pipelines first.
- ``absolute``: own weight only.

Results are clamped to a signed 32-bit integer, as Airflow does for its database column.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from airflow_sc.domain.task_rules import WeightRule

__all__ = ["PRIORITY_MAX", "PRIORITY_MIN", "TaskWeight", "clamp_priority", "priority_weights"]

PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class TaskWeight:
    priority_weight: int = 1
    weight_rule: WeightRule = WeightRule.DOWNSTREAM


def clamp_priority(weight: int) -> int:
    return min(max(weight, PRIORITY_MIN), PRIORITY_MAX)


def priority_weights(
    tasks: Mapping[str, TaskWeight], downstream: Mapping[str, Collection[str]]
) -> dict[str, int]:
    """Each task's effective weight; ``downstream`` maps a task id to its direct downstreams.

    Tasks missing from ``downstream`` have none. Raises ValueError on an unknown task id or a
    cycle.
    """
    children = {task_id: frozenset(downstream.get(task_id, ())) for task_id in tasks}
    unknown = (
        set(downstream) - tasks.keys() | {c for cs in children.values() for c in cs} - tasks.keys()
    )
    if unknown:
        raise ValueError(f"task graph names unknown tasks: {sorted(unknown)}")
    parents: dict[str, set[str]] = {task_id: set() for task_id in tasks}
    for task_id, kids in children.items():
        for kid in kids:
            parents[kid].add(task_id)

    # Reachable sets are bitsets (bit i = i-th task): unions and counts stay in C, so a DAG
    # of thousands of tasks costs milliseconds, not an O(n^2) Python loop.
    index = {task_id: i for i, task_id in enumerate(tasks)}
    rules = {t.weight_rule for t in tasks.values()}
    below = _reachable(children, index) if WeightRule.DOWNSTREAM in rules else {}
    above = _reachable(parents, index) if WeightRule.UPSTREAM in rules else {}
    # Tasks grouped by weight: a sum over a bitset is one popcount per distinct weight.
    by_weight: dict[int, int] = {}
    for task_id, task in tasks.items():
        by_weight[task.priority_weight] = (
            by_weight.get(task.priority_weight, 0) | 1 << index[task_id]
        )

    result: dict[str, int] = {}
    for task_id, task in tasks.items():
        match task.weight_rule:
            case WeightRule.DOWNSTREAM:
                relatives = below[task_id]
            case WeightRule.UPSTREAM:
                relatives = above[task_id]
            case WeightRule.ABSOLUTE:
                relatives = 0
        total = task.priority_weight + sum(
            weight * (relatives & members).bit_count() for weight, members in by_weight.items()
        )
        result[task_id] = clamp_priority(total)
    return result


def _reachable(edges: Mapping[str, Collection[str]], index: Mapping[str, int]) -> dict[str, int]:
    """For each task, the bitset of tasks reachable from it along ``edges``; cycle-checked."""
    closure: dict[str, int] = {}
    on_path: set[str] = set()
    for root in edges:
        if root in closure:
            continue
        # Iterative post-order DFS: a 10k-task chain must not hit the recursion limit.
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                on_path.discard(node)
                reach = 0
                for nxt in edges[node]:
                    reach |= closure[nxt] | 1 << index[nxt]
                closure[node] = reach
                continue
            if node in closure:
                continue
            if node in on_path:
                raise ValueError(f"task graph has a cycle through {node!r}")
            on_path.add(node)
            stack.append((node, True))
            stack.extend((nxt, False) for nxt in edges[node] if nxt not in closure)
    return closure
