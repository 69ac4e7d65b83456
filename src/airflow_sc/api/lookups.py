"""Lookups the DAG run, task instance and log routes share, with Airflow's 404 messages."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import HTTPException

from airflow_sc.db import Database
from airflow_sc.db.queries import api_runs, api_task_instances
from airflow_sc.db.queries.api_runs import DagRunRow
from airflow_sc.db.queries.api_task_instances import TaskInstanceFilter, TaskInstanceRow
from airflow_sc.domain.listing import Listing

__all__ = [
    "require_dag",
    "require_run",
    "run_not_found",
    "task_instance_rows",
    "ti_not_found",
]


def run_not_found(dag_id: str, run_id: str) -> HTTPException:
    return HTTPException(
        404, f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"
    )


def ti_not_found(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> HTTPException:
    return HTTPException(
        404,
        f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: "
        f"`{task_id}` and map_index: `{-1 if map_index is None else map_index}` was not found",
    )


async def require_dag(db: Database, dag_id: str) -> None:
    if not await api_runs.dag_exists(db, dag_id):
        raise HTTPException(404, f"The Dag with ID: `{dag_id}` was not found")


async def require_run(db: Database, dag_id: str, run_id: str) -> DagRunRow:
    row = await api_runs.get_dag_run(db, dag_id, run_id)
    if row is None:
        raise run_not_found(dag_id, run_id)
    return row


async def task_instance_rows(
    db: Database, dag_id: str, keys: Collection[tuple[str, str, int]]
) -> list[TaskInstanceRow]:
    """The task instances named by (run_id, task_id, map_index), in their current state."""
    if not keys:
        return []
    where = TaskInstanceFilter(
        dag_ids=[dag_id],
        run_ids=sorted({k[0] for k in keys}),
        task_ids=sorted({k[1] for k in keys}),
    )
    listing = Listing(limit=len(keys) * 4 + 100)
    page = await api_task_instances.list_task_instances(db, where, listing)
    wanted = set(keys)
    return [r for r in page.items if (r.run_id, r.task_id, r.map_index) in wanted]
