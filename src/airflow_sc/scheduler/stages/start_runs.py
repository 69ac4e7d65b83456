"""start_runs: QUEUED dag runs -> RUNNING within max_active_runs, with their task instances.

Task instances are created from the DAG version the run was created with (a DAG edited
while the run waits does not change the run). A run cleared back to QUEUED already has its
task instances and keeps them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from anyio.abc import TaskStatus

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.domain import DagRunKey, DagRunState
from airflow_sc.domain.transitions import Actor, check_dag_run_transition
from airflow_sc.scheduler.custom_weights import custom_weight
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.policy import QueuedRun, runs_to_start
from airflow_sc.scheduler.stages._loop import run_stage
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.serialization.spec import DagSpec

__all__ = ["serve_start_runs", "start_queued_runs", "task_instance_rows"]

log = logging.getLogger(__name__)


async def serve_start_runs(
    deps: StageDeps, wakeups: StageWakeups, *, task_status: TaskStatus[None]
) -> None:
    async def one_pass(woken: bool) -> float | None:
        started, wait = await start_queued_runs(deps)
        for run_pk in started:
            deps.run_notices.add(run_pk, DagRunState.RUNNING)
        if started:
            wakeups.mark_dirty(started)
            deps.progressed(started)
        return wait

    await run_stage(
        wakeups.start_runs,
        one_pass,
        sweep_interval=deps.deps.sweep_interval,
        passes=wakeups.passes,
        stop=deps.stopping,
        task_status=task_status,
    )


async def start_queued_runs(deps: StageDeps) -> tuple[list[int], float | None]:
    """One pass: returns the started run ids and the seconds until a waiting run is due."""
    now = deps.now()

    async def body(tx: Transaction) -> tuple[list[int], float | None]:
        queued = await scheduling.queued_runs(tx, limit=deps.deps.batch_limit)
        if not queued:
            return [], None
        specs = await deps.versions.get(tx, {r.version_id for r in queued})
        by_key = {DagRunKey(r.dag_id, r.run_id): r for r in queued}
        candidates = [
            QueuedRun(
                key=key,
                run_after=r.run_after,
                max_active_runs=_max_active_runs(r.max_active_runs, specs.get(r.version_id or "")),
            )
            for key, r in by_key.items()
        ]
        running = await scheduling.running_run_counts(tx, {r.dag_id for r in queued})
        chosen = runs_to_start(
            candidates, running={(d, None): n for d, n in running.items()}, now=now
        )
        started = [by_key[c.key] for c in chosen]
        if started:  # every run read is queued
            check_dag_run_transition(DagRunState.QUEUED, DagRunState.RUNNING, actor=Actor.SCHEDULER)
        await scheduling.mark_runs_running(tx, [r.id for r in started], now=now)
        have = await scheduling.runs_having_task_instances(
            tx, [(r.dag_id, r.run_id) for r in started]
        )
        rows: list[dict[str, Any]] = []
        for run in started:
            spec = specs.get(run.version_id or "")
            if spec is not None and (run.dag_id, run.run_id) not in have:
                rows.extend(task_instance_rows(spec, run.run_id, now=now))
        await scheduling.insert_task_instances(tx, rows)
        later = [r.run_after for r in queued if r.run_after > now]
        wait = (min(later) - now).total_seconds() if later else None
        return [r.id for r in started], wait

    return await deps.db.run(body)


def _max_active_runs(dag_value: int | None, spec: DagSpec | None) -> int:
    if dag_value is not None:
        return dag_value
    return spec.max_active_runs if spec is not None else 16


def task_instance_rows(spec: DagSpec, run_id: str, *, now: datetime) -> list[dict[str, Any]]:
    """New task instance rows (state None, try 0) of every task of `spec` for one run."""
    weights = dict(spec.priority_weights)
    for task in spec.tasks.values():
        if task.weight_strategy is not None:
            weight = custom_weight(spec, task, run_id)
            weights[task.task_id] = task.priority_weight if weight is None else weight
    return [
        {
            "id": str(uuid.uuid4()),
            "dag_id": spec.dag_id,
            "run_id": run_id,
            "task_id": task.task_id,
            "map_index": -1,
            "state": None,
            "try_number": 0,
            "max_tries": task.retries,
            "pool": task.pool,
            "pool_slots": task.pool_slots,
            "queue": task.queue,
            "priority_weight": weights.get(task.task_id, task.priority_weight),
            "operator": task.operator,
            "task_display_name": task.task_id,
            "executor": task.executor,
            "updated_at": now,
        }
        for task in spec.tasks.values()
    ]
