"""Task selection over a DAG's graph: a task set widened up- or downstream."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from airflow_sc.serialization.spec import DagSpec


def _closure(start: Collection[str], edges: Mapping[str, Collection[str]]) -> set[str]:
    found: set[str] = set()
    stack = list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    return found


def widen(
    spec: DagSpec, task_ids: Collection[str], *, downstream: bool, upstream: bool
) -> set[str]:
    """`task_ids` plus, if asked, everything downstream and/or upstream of them."""
    chosen = {t for t in task_ids if t in spec.tasks}
    if downstream:
        edges = {t: task.downstream_task_ids for t, task in spec.tasks.items()}
        chosen |= _closure(chosen, edges)
    if upstream:
        chosen |= _closure(set(task_ids) & spec.tasks.keys(), spec.upstream_task_ids)
    return chosen
