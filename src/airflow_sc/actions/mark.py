"""Mark task instances or whole DAG runs success or failed (Airflow's "Mark state")."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from airflow_sc.actions._graph import widen
from airflow_sc.actions.errors import DagRunNotFound
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries
from airflow_sc.db.queries import scheduling
from airflow_sc.serialization.spec import DagSpec

MarkState = Literal["success", "failed"]
_FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


async def mark_task_instances(
    db: Database,
    dag_id: str,
    run_id: str,
    task_ids: Collection[str],
    state: MarkState,
    *,
    now: datetime,
    include_downstream: bool = False,
    include_upstream: bool = False,
    wake: Wake = no_wake,
) -> list[str]:
    """Set these task instances' state; returns the task ids changed.

    A marked task instance that is still running keeps running, but what it reports is
    ignored. The scheduler then decides the downstream tasks and the run's state.
    """

    async def body(tx: Transaction) -> tuple[list[str], int]:
        runs = await queries.lock_runs(tx, dag_id, [run_id])
        if not runs:
            raise DagRunNotFound(dag_id, run_id)
        run = runs[0]
        chosen = set(task_ids)
        if run.version_id is not None and (include_downstream or include_upstream):
            data = await scheduling.version_data(tx, [run.version_id])
            if run.version_id in data:
                spec = DagSpec.from_dict(data[run.version_id])
                chosen = widen(
                    spec, chosen, downstream=include_downstream, upstream=include_upstream
                )
        changed: list[str] = []
        for ti in await queries.task_instances(tx, dag_id, [run_id]):
            if ti.task_id not in chosen or ti.state == state:
                continue
            await queries.update_task_instance(tx, ti.id, _ended(state, ti.start_date, now))
            changed.append(ti.task_id)
        if changed and run.state in ("success", "failed"):
            # The run's outcome is decided again from its task instances.
            await queries.update_run(tx, run.id, {"state": "running", "end_date": None})
        return sorted(changed), run.id

    changed, run_pk = await db.run(body)
    if changed:
        wake([run_pk])
    return changed


async def mark_dag_run(
    db: Database,
    dag_id: str,
    run_id: str,
    state: MarkState,
    *,
    now: datetime,
    wake: Wake = no_wake,
) -> None:
    """Finish a run as success or failed.

    Success: every unfinished task instance becomes success. Failed: queued or running
    ones become failed, the ones not started yet skipped (Airflow's behaviour).
    """

    async def body(tx: Transaction) -> int:
        runs = await queries.lock_runs(tx, dag_id, [run_id])
        if not runs:
            raise DagRunNotFound(dag_id, run_id)
        run = runs[0]
        for ti in await queries.task_instances(tx, dag_id, [run_id]):
            if ti.state in _FINISHED:
                continue
            if state == "success":
                new = "success"
            else:
                new = "failed" if ti.state in ("queued", "running") else "skipped"
            await queries.update_task_instance(tx, ti.id, _ended(new, ti.start_date, now))
        await queries.update_run(tx, run.id, {"state": state, "end_date": now, "updated_at": now})
        return run.id

    run_pk = await db.run(body)
    wake([run_pk])


def _ended(state: str, start_date: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "state": state,
        "start_date": start_date or now,
        "end_date": now,
        "updated_at": now,
    }
