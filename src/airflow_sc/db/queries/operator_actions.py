"""Statements behind operator actions: trigger, clear, mark, pause.

Lock order as everywhere: dag -> dag_run -> task_instance -> pool. Runs are locked in id
order before their task instances are changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag, dag_run, task_instance
from airflow_sc.db.queries.scheduling import TI_LOCK_ORDER

__all__ = ["ActionRun", "ActionTaskInstance"]

ti = task_instance


async def dag_is_paused(tx: Transaction, dag_id: str, *, lock: bool = False) -> bool | None:
    """The DAG's paused flag, or None when there is no such (active) DAG."""
    query = select(dag.c.is_paused).where(dag.c.dag_id == dag_id, dag.c.is_stale.is_(False))
    if lock and tx.dialect == "postgresql":
        query = query.with_for_update()
    row = (await tx.execute(query)).first()
    return None if row is None else bool(row.is_paused)


async def set_paused(tx: Transaction, dag_ids: Collection[str], paused: bool) -> list[str]:
    """Set the DAGs' paused flag; the ids that exist, sorted."""
    rows = await tx.execute(
        update(dag)
        .where(dag.c.dag_id.in_(sorted(dag_ids)))
        .values(is_paused=paused)
        .returning(dag.c.dag_id)
    )
    return sorted(row.dag_id for row in rows)


async def set_run_note(tx: Transaction, dag_id: str, run_id: str, note: str | None) -> bool:
    """False when there is no such run."""
    rows = await tx.execute(
        update(dag_run)
        .where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
        .values(note=note)
    )
    return rows.rowcount != 0


async def set_task_instance_notes(
    tx: Transaction,
    dag_id: str,
    run_id: str,
    task_id: str,
    note: str | None,
    *,
    map_indexes: Collection[int] | None = None,
) -> int:
    """Set the note of one task's instances in a run; how many rows changed."""
    query = update(ti).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id, ti.c.task_id == task_id)
    if map_indexes is not None:
        query = query.where(ti.c.map_index.in_(sorted(map_indexes)))
    return (await tx.execute(query.values(note=note))).rowcount


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
    rows = await tx.execute(query)
    return [
        ActionRun(row.id, row.run_id, row.state, _str_or_none(row.created_dag_version_id))
        for row in rows
    ]


def _str_or_none(value: object) -> str | None:
    # An id as text, whatever type the driver returned it as.
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ActionTaskInstance:
    """The task_instance columns an action reads (each field is the column of its name)."""

    id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None


_ACTION_TI_COLUMNS = [ti.c[f.name] for f in fields(ActionTaskInstance)]


async def task_instances(
    tx: Transaction, dag_id: str, run_ids: Collection[str]
) -> list[ActionTaskInstance]:
    """The runs' task instances, locked in the scheduler's `TI_LOCK_ORDER` (by run, then
    by id) so that an action and a scheduler stage wanting the same rows never deadlock."""
    if not run_ids:
        return []
    query = (
        select(*_ACTION_TI_COLUMNS)
        .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .where(ti.c.dag_id == dag_id, ti.c.run_id.in_(sorted(run_ids)))
        .order_by(*TI_LOCK_ORDER)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=ti)
    return [
        ActionTaskInstance(**{**row._mapping, "id": str(row.id)}) for row in await tx.execute(query)
    ]


def requeued(now: datetime) -> dict[str, Any]:
    """The values of a run that goes back to the queue: the scheduler starts it again."""
    return {
        "state": "queued",
        "queued_at": now,
        "start_date": None,
        "end_date": None,
        "updated_at": now,
    }


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
