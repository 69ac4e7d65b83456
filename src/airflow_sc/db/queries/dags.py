"""Read-side queries about DAGs, their versions and import errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import dag, import_error, serialized_dag


@dataclass(frozen=True, slots=True)
class DagRow:
    dag_id: str
    fileloc: str | None
    owners: str | None
    is_paused: bool
    is_stale: bool
    has_import_errors: bool
    timetable_summary: str | None
    next_dagrun: datetime | None


@dataclass(frozen=True, slots=True)
class ImportErrorRow:
    id: int
    filename: str
    timestamp: datetime
    stacktrace: str


async def list_dags(db: Database, *, include_stale: bool = False) -> list[DagRow]:
    async def body(tx: Transaction) -> list[DagRow]:
        query = select(
            dag.c.dag_id,
            dag.c.fileloc,
            dag.c.owners,
            dag.c.is_paused,
            dag.c.is_stale,
            dag.c.has_import_errors,
            dag.c.timetable_summary,
            dag.c.next_dagrun,
        ).order_by(dag.c.dag_id)
        if not include_stale:
            query = query.where(dag.c.is_stale.is_(False))
        return [DagRow(**row._mapping) for row in await tx.execute(query)]

    return await db.run(body, write=False)


async def list_import_errors(db: Database) -> list[ImportErrorRow]:
    async def body(tx: Transaction) -> list[ImportErrorRow]:
        rows = await tx.execute(
            select(
                import_error.c.id,
                import_error.c.filename,
                import_error.c.timestamp,
                import_error.c.stacktrace,
            ).order_by(import_error.c.filename, import_error.c.id)
        )
        return [ImportErrorRow(**row._mapping) for row in rows]

    return await db.run(body, write=False)


async def latest_serialized(tx: Transaction, dag_id: str) -> dict[str, Any] | None:
    """The newest serialized version of a DAG (JSON data), or None."""
    row = (
        await tx.execute(
            select(serialized_dag.c.data)
            .where(serialized_dag.c.dag_id == dag_id)
            .order_by(serialized_dag.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else dict(row.data)
