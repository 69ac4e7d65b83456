"""Task selection over a DAG's graph: a task set widened up- or downstream."""

from __future__ import annotations

from collections.abc import Collection

from airflow_sc.domain.graph import reachable
from airflow_sc.serialization.spec import DagSpec


def widen(
    spec: DagSpec, task_ids: Collection[str], *, downstream: bool, upstream: bool
) -> set[str]:
    """`task_ids` plus, if asked, everything downstream and/or upstream of them."""
    chosen = {t for t in task_ids if t in spec.tasks}
    if downstream:
        chosen |= spec.downstream_of(chosen)
    if upstream:
        chosen |= reachable(set(task_ids) & spec.tasks.keys(), spec.upstream_task_ids)
    return chosen
