"""Statements behind operator actions: trigger, clear, mark, pause.

Lock order as everywhere: dag -> dag_run -> task_instance -> pool. Runs are locked in id
order before their task instances are changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag, dag_run, task_instance

__all__ = ["ActionRun", "ActionTaskInstance"]

ti = task_instance


async def dag_is_paused(tx: Transaction, dag_id: str, *, lock: bool = False) -> bool | None:
    """The DAG's paused flag, or None when there is no such (active) DAG."""
    query = select(dag.c.is_paused).where(dag.c.dag_id == dag_id, dag.c.is_stale.is_(False))
    if lock and tx.dialect == "postgresql":
        query = query.with_for_update()
    row = (await tx.execute(query)).first()
    return None if row is None else bool(row.is_paused)


async def set_paused(tx: Transaction, dag_id: str, paused: bool) -> bool:
    rows = await tx.execute(update(dag).where(dag.c.dag_id == dag_id).values(is_paused=paused))
    return rows.rowcount != 0


async def run_exists(
    tx: Transaction, dag_id: str, *, run_id: str, logical_date: datetime | None
) -> bool:
    clause = dag_run.c.run_id == run_id
    if logical_date is not None:
        clause = or_(clause, dag_run.c.logical_date == logical_date)
    found = await tx.scalar(select(dag_run.c.id).where(dag_run.c.dag_id == dag_id, clause))
    return found is not None


async def insert_run(tx: Transaction, values: Mapping[str, Any]) -> int:
    """Insert a dag_run (check `run_exists` first in the same transaction)."""
    return int(await tx.scalar(insert(dag_run).values(**values).returning(dag_run.c.id)))


@dataclass(frozen=True, slots=True)
class ActionRun:
    id: int
    run_id: str
    state: str
    version_id: str | None


async def lock_runs(
    tx: Transaction, dag_id: str, run_ids: Collection[str] | None
) -> list[ActionRun]:
    """The DAG's runs (all, or those named), locked in id order."""
    query = select(
        dag_run.c.id, dag_run.c.run_id, dag_run.c.state, dag_run.c.created_dag_version_id
    ).where(dag_run.c.dag_id == dag_id)
    if run_ids is not None:
        query = query.where(dag_run.c.run_id.in_(sorted(run_ids)))
    query = query.order_by(dag_run.c.id)
    if tx.dialect == "postgresql":
        query = query.with_for_update()
    return [
        ActionRun(
            id=row.id,
            run_id=row.run_id,
            state=row.state,
            version_id=None
            if row.created_dag_version_id is None
            else str(row.created_dag_version_id),
        )
        for row in await tx.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class ActionTaskInstance:
    id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None


async def task_instances(
    tx: Transaction, dag_id: str, run_ids: Collection[str]
) -> list[ActionTaskInstance]:
    if not run_ids:
        return []
    query = (
        select(
            ti.c.id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.state,
            ti.c.try_number,
            ti.c.max_tries,
            ti.c.start_date,
        )
        .where(ti.c.dag_id == dag_id, ti.c.run_id.in_(sorted(run_ids)))
        .order_by(ti.c.id)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update()
    return [
        ActionTaskInstance(
            id=str(row.id),
            run_id=row.run_id,
            task_id=row.task_id,
            map_index=row.map_index,
            state=row.state,
            try_number=row.try_number,
            max_tries=row.max_tries,
            start_date=row.start_date,
        )
        for row in await tx.execute(query)
    ]


async def update_task_instance(tx: Transaction, ti_id: str, values: Mapping[str, Any]) -> None:
    await tx.execute(update(ti).where(ti.c.id == ti_id).values(**dict(values)))


async def update_run(tx: Transaction, run_pk: int, values: Mapping[str, Any]) -> None:
    await tx.execute(update(dag_run).where(dag_run.c.id == run_pk).values(**dict(values)))


async def bump_clear_number(tx: Transaction, run_pk: int, values: Mapping[str, Any]) -> None:
    await tx.execute(
        update(dag_run)
        .where(dag_run.c.id == run_pk)
        .values(clear_number=dag_run.c.clear_number + 1, **dict(values))
    )
