"""The enqueue decision: which scheduled task instances go to the executor this pass.

Airflow 3's critical section (``_executable_task_instances_to_queued``) as a pure function.
Candidates are considered highest ``priority_weight`` first, then earlier logical date (runs
without one last), then run id, task id and map index, so the same input always gives the
same answer. Each candidate is admitted if, counting everything admitted before it:

- its pool exists and has ``pool_slots`` open (a pool of ``-1`` slots is unlimited);
- fewer than ``parallelism`` task instances are queued or running in total;
- its DAG run has fewer than the DAG's ``max_active_tasks`` queued or running (per DAG run
  since Airflow 3);
- its task has fewer than ``max_active_tis_per_dag`` queued or running across all runs, and
  fewer than ``max_active_tis_per_dagrun`` in its own run.

A blocked candidate does not block the ones after it: a lower-priority task instance that
fits still goes, as in Airflow (no head-of-line blocking across pools or caps). Since counts
only grow during a pass, the result is maximal: no blocked candidate would fit next to the
admitted ones. A candidate whose pool is unknown or smaller than its ``pool_slots`` can never
run; it is reported so the caller can fail it or log it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from airflow_sc.domain.keys import DagRunKey, TaskInstanceKey

__all__ = [
    "ActiveCounts",
    "Admission",
    "Blocked",
    "Candidate",
    "PoolState",
    "admission_order",
    "admit",
]

DagTask = tuple[str, str]
DagRunTask = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scheduled task instance and the limits that apply to it."""

    key: TaskInstanceKey
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    logical_date: datetime | None = None
    max_active_tasks: int = 16
    """The DAG's ``max_active_tasks``, applied to each of its runs."""
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None

    def __post_init__(self) -> None:
        if self.pool_slots < 1:
            raise ValueError(f"pool_slots must be at least 1, got {self.pool_slots}")

    @property
    def dag_run(self) -> DagRunKey:
        return self.key.dag_run_key

    @property
    def dag_task(self) -> DagTask:
        return (self.key.dag_id, self.key.task_id)

    @property
    def dag_run_task(self) -> DagRunTask:
        return (self.key.dag_id, self.key.run_id, self.key.task_id)


@dataclass(frozen=True, slots=True)
class PoolState:
    """A pool's size (``-1``: unlimited) and the slots its queued/running (and, if the pool
    counts them, deferred) task instances hold now."""

    slots: int
    occupied: int = 0

    @property
    def unlimited(self) -> bool:
        return self.slots == -1

    @property
    def open(self) -> float:
        return math.inf if self.unlimited else self.slots - self.occupied


@dataclass(frozen=True, slots=True)
class ActiveCounts:
    """Task instances queued or running right now, by the scopes the limits apply to."""

    total: int = 0
    per_dag_run: Mapping[DagRunKey, int] = field(default_factory=dict)
    per_dag_task: Mapping[DagTask, int] = field(default_factory=dict)
    per_dag_run_task: Mapping[DagRunTask, int] = field(default_factory=dict)


class Blocked(StrEnum):
    """Why a candidate stays scheduled this pass."""

    UNKNOWN_POOL = "unknown_pool"  # never runs until the pool is created
    EXCEEDS_POOL_SIZE = "exceeds_pool_size"  # pool_slots > the pool's total: never runs
    PARALLELISM = "parallelism"
    POOL_FULL = "pool_full"
    MAX_ACTIVE_TASKS = "max_active_tasks"
    MAX_ACTIVE_TIS_PER_DAG = "max_active_tis_per_dag"
    MAX_ACTIVE_TIS_PER_DAGRUN = "max_active_tis_per_dagrun"


NEVER_RUNNABLE = frozenset({Blocked.UNKNOWN_POOL, Blocked.EXCEEDS_POOL_SIZE})


@dataclass(frozen=True, slots=True)
class Admission:
    queued: tuple[Candidate, ...]
    """To move scheduled -> queued and submit, in this order (priority order)."""
    blocked: tuple[tuple[Candidate, Blocked], ...]
    """Everything else with the first limit that stopped it, in priority order."""

    @property
    def never_runnable(self) -> tuple[tuple[Candidate, Blocked], ...]:
        """Blocked for good (unknown pool, pool too small): fail or report these."""
        return tuple(entry for entry in self.blocked if entry[1] in NEVER_RUNNABLE)


def admission_order(candidate: Candidate) -> tuple[int, bool, datetime, str, str, int]:
    """Sort key: highest priority first, then earliest logical date (none last), then ids."""
    logical = candidate.logical_date
    return (
        -candidate.priority_weight,
        logical is None,
        logical if logical is not None else datetime.min,
        candidate.key.run_id,
        candidate.key.task_id,
        candidate.key.map_index,
    )


def admit(
    candidates: Iterable[Candidate],
    *,
    pools: Mapping[str, PoolState],
    active: ActiveCounts,
    parallelism: int | None,
) -> Admission:
    """Choose the candidates to queue now; ``parallelism=None`` means no global limit."""
    ordered = sorted(candidates, key=admission_order)
    if len({c.key.primary for c in ordered}) != len(ordered):
        raise ValueError("a task instance appears twice among the candidates")
    state = _Accounting(pools, active, parallelism)
    queued: list[Candidate] = []
    blocked: list[tuple[Candidate, Blocked]] = []
    for candidate in ordered:
        reason = state.blocker(candidate)
        if reason is None:
            state.take(candidate)
            queued.append(candidate)
        else:
            blocked.append((candidate, reason))
    return Admission(tuple(queued), tuple(blocked))


class _Accounting:
    """Running totals during one pass; `blocker` is checked before `take`."""

    def __init__(
        self, pools: Mapping[str, PoolState], active: ActiveCounts, parallelism: int | None
    ) -> None:
        self.pools = pools
        self.open: dict[str, float] = {name: pool.open for name, pool in pools.items()}
        self.free = math.inf if parallelism is None else parallelism - active.total
        self.per_dag_run = Counter(active.per_dag_run)
        self.per_dag_task = Counter(active.per_dag_task)
        self.per_dag_run_task = Counter(active.per_dag_run_task)

    def blocker(self, c: Candidate) -> Blocked | None:
        pool = self.pools.get(c.pool)
        if pool is None:
            return Blocked.UNKNOWN_POOL
        if not pool.unlimited and c.pool_slots > pool.slots:
            return Blocked.EXCEEDS_POOL_SIZE
        if self.free <= 0:
            return Blocked.PARALLELISM
        if c.pool_slots > self.open[c.pool]:
            return Blocked.POOL_FULL
        if self.per_dag_run[c.dag_run] >= c.max_active_tasks:
            return Blocked.MAX_ACTIVE_TASKS
        cap = c.max_active_tis_per_dag
        if cap is not None and self.per_dag_task[c.dag_task] >= cap:
            return Blocked.MAX_ACTIVE_TIS_PER_DAG
        cap = c.max_active_tis_per_dagrun
        if cap is not None and self.per_dag_run_task[c.dag_run_task] >= cap:
            return Blocked.MAX_ACTIVE_TIS_PER_DAGRUN
        return None

    def take(self, c: Candidate) -> None:
        self.free -= 1
        self.open[c.pool] -= c.pool_slots
        self.per_dag_run[c.dag_run] += 1
        self.per_dag_task[c.dag_task] += 1
        self.per_dag_run_task[c.dag_run_task] += 1
