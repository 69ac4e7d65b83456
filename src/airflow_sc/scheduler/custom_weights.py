"""Priority weights that plugins' strategies compute (a task's ``weight_rule`` strategy).

The scheduler asks the strategy once per new task instance, when a run's task instances
are created, with a read-only view of the instance (`StrategyTaskInstance`, its ``task``
a view of the task). User code runs here, so nothing it does may stop the scheduler: a
strategy that is not registered in this process, raises, or returns something other than
an integer leaves the task's own ``priority_weight``, and says why in the log once per
task and problem.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_sc.domain.priority import clamp_priority
from airflow_sc.sdk.priority_strategy import PriorityWeightStrategy, deserialize_strategy
from airflow_sc.serialization.spec import DagSpec, TaskSpec

__all__ = ["StrategyTask", "StrategyTaskInstance", "custom_weight"]

log = logging.getLogger(__name__)

_warned: set[tuple[str, str, str]] = set()


@dataclass(frozen=True, slots=True)
class StrategyTask:
    """The task, as a strategy's ``ti.task`` sees it."""

    task_id: str
    dag_id: str
    priority_weight: int
    weight_rule: PriorityWeightStrategy
    retries: int
    pool: str
    queue: str
    downstream_task_ids: frozenset[str]
    upstream_task_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class StrategyTaskInstance:
    """The new task instance a strategy weighs (``ti`` in ``get_weight(ti)``)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    pool: str
    queue: str
    task: StrategyTask


def custom_weight(spec: DagSpec, task: TaskSpec, run_id: str) -> int | None:
    """The weight `task`'s strategy gives its new instance in `run_id`; None when it has no
    strategy or the strategy cannot answer (the caller uses the usual weight)."""
    if task.weight_strategy is None:
        return None
    try:
        strategy = deserialize_strategy(dict(task.weight_strategy))
    except Exception as exc:
        _warn(spec, task, "cannot be rebuilt", exc)
        return None
    ti = _instance(spec, task, run_id, strategy)
    try:
        weight = strategy.get_weight(ti)
    except Exception as exc:
        _warn(spec, task, "raised", exc)
        return None
    if isinstance(weight, bool) or not isinstance(weight, int):
        _warn(spec, task, "returned no integer", TypeError(repr(weight)))
        return None
    return clamp_priority(weight)


def _instance(
    spec: DagSpec, task: TaskSpec, run_id: str, strategy: PriorityWeightStrategy
) -> StrategyTaskInstance:
    upstream: Mapping[str, frozenset[str]] = spec.upstream_task_ids
    view = StrategyTask(
        task_id=task.task_id,
        dag_id=spec.dag_id,
        priority_weight=task.priority_weight,
        weight_rule=strategy,
        retries=task.retries,
        pool=task.pool,
        queue=task.queue,
        downstream_task_ids=task.downstream_task_ids,
        upstream_task_ids=upstream.get(task.task_id, frozenset()),
    )
    return StrategyTaskInstance(
        dag_id=spec.dag_id,
        run_id=run_id,
        task_id=task.task_id,
        map_index=-1,
        try_number=0,
        max_tries=task.retries,
        pool=task.pool,
        queue=task.queue,
        task=view,
    )


def _warn(spec: DagSpec, task: TaskSpec, problem: str, exc: Exception) -> None:
    key = (spec.dag_id, task.task_id, problem)
    strategy: Any = (task.weight_strategy or {}).get("__type")
    if key in _warned:
        return
    _warned.add(key)
    log.warning(
        "task %s.%s: its priority weight strategy %s %s (%s); its priority_weight %d applies",
        spec.dag_id,
        task.task_id,
        strategy,
        problem,
        exc,
        task.priority_weight,
    )
