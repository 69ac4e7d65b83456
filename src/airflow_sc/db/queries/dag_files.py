"""Writes of the DAG processor: one transaction per parsed (or deleted) file.

Lock order (the code base's one order): dag -> dag_run -> task_instance -> pool; this
module touches dag rows (and their tags, versions and the file's import errors) only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag, dag_run, dag_tag, import_error, serialized_dag


@dataclass(frozen=True, slots=True)
class DagRecord:
    """One DAG as a parse produced it, with the columns of its `dag` row."""

    dag_id: str
    data: dict[str, Any]
    dag_hash: str
    fileloc: str
    relative_fileloc: str | None
    owners: str
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    max_active_tasks: int
    max_active_runs: int
    has_task_concurrency_limits: bool
    tags: tuple[str, ...]
    #: None: use the deployment default for a new DAG.
    is_paused_upon_creation: bool | None
    max_consecutive_failed_dag_runs: int = 0


@dataclass(frozen=True, slots=True)
class NextRun:
    next_dagrun: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    create_after: datetime | None


@dataclass(frozen=True, slots=True)
class StoredFile:
    new_versions: list[str]
    stale: list[str]


async def latest_hashes(tx: Transaction, dag_ids: Sequence[str]) -> dict[str, str]:
    """Hash of the newest stored version of each DAG."""
    if not dag_ids:
        return {}
    newest = (
        select(serialized_dag.c.dag_id, func.max(serialized_dag.c.created_at).label("created_at"))
        .where(serialized_dag.c.dag_id.in_(dag_ids))
        .group_by(serialized_dag.c.dag_id)
        .subquery()
    )
    rows = await tx.execute(
        select(serialized_dag.c.dag_id, serialized_dag.c.dag_hash).join(
            newest,
            and_(
                newest.c.dag_id == serialized_dag.c.dag_id,
                newest.c.created_at == serialized_dag.c.created_at,
            ),
        )
    )
    return {row.dag_id: row.dag_hash for row in rows}


async def last_automated_intervals(
    tx: Transaction, dag_ids: Sequence[str]
) -> dict[str, tuple[datetime, datetime]]:
    """Data interval of each DAG's latest scheduled (or backfill) run."""
    if not dag_ids:
        return {}
    latest = (
        select(dag_run.c.dag_id, func.max(dag_run.c.logical_date).label("logical_date"))
        .where(dag_run.c.dag_id.in_(dag_ids), dag_run.c.run_type.in_(("scheduled", "backfill")))
        .group_by(dag_run.c.dag_id)
        .subquery()
    )
    rows = await tx.execute(
        select(dag_run.c.dag_id, dag_run.c.data_interval_start, dag_run.c.data_interval_end).join(
            latest,
            and_(
                latest.c.dag_id == dag_run.c.dag_id,
                latest.c.logical_date == dag_run.c.logical_date,
            ),
        )
    )
    return {
        row.dag_id: (row.data_interval_start, row.data_interval_end)
        for row in rows
        if row.data_interval_start is not None and row.data_interval_end is not None
    }


async def store_file(
    tx: Transaction,
    *,
    fileloc: str,
    dags: Sequence[DagRecord],
    next_runs: dict[str, NextRun],
    errors: Sequence[tuple[str, str]],
    paused_by_default: bool,
    now: datetime,
) -> StoredFile:
    """Record what parsing `fileloc` produced.

    DAGs the file no longer defines become stale; if the file failed to import entirely,
    its DAGs keep their last good version (a typo must not unschedule them) and are
    flagged `has_import_errors`. `next_runs` carries the next-run columns for DAGs whose
    definition changed.
    """
    previous = set(
        await tx.scalars(
            select(dag.c.dag_id).where(dag.c.fileloc == fileloc, dag.c.is_stale.is_(False))
        )
    )
    existing = set(
        await tx.scalars(select(dag.c.dag_id).where(dag.c.dag_id.in_([d.dag_id for d in dags])))
    )
    hashes = await latest_hashes(tx, [d.dag_id for d in dags])
    new_versions: list[str] = []
    for record in dags:
        await _upsert_dag(tx, record, record.dag_id in existing, paused_by_default, now)
        if hashes.get(record.dag_id) != record.dag_hash:
            new_versions.append(record.dag_id)
            await tx.execute(
                insert(serialized_dag).values(
                    id=str(uuid.uuid4()),
                    dag_id=record.dag_id,
                    data=record.data,
                    dag_hash=record.dag_hash,
                    created_at=now,
                    last_updated=now,
                )
            )
        if record.dag_id in next_runs:
            nxt = next_runs[record.dag_id]
            await tx.execute(
                update(dag)
                .where(dag.c.dag_id == record.dag_id)
                .values(
                    next_dagrun=nxt.next_dagrun,
                    next_dagrun_data_interval_start=nxt.data_interval_start,
                    next_dagrun_data_interval_end=nxt.data_interval_end,
                    next_dagrun_create_after=nxt.create_after,
                )
            )
    stale: list[str] = []
    if dags or not errors:
        stale = sorted(previous - {d.dag_id for d in dags})
    elif previous:
        await tx.execute(
            update(dag).where(dag.c.dag_id.in_(previous)).values(has_import_errors=True)
        )
    if stale:
        await tx.execute(update(dag).where(dag.c.dag_id.in_(stale)).values(is_stale=True))
    await _replace_import_errors(tx, fileloc, errors, now)
    return StoredFile(new_versions=new_versions, stale=stale)


async def forget_file(tx: Transaction, *, fileloc: str) -> list[str]:
    """The file is gone: its DAGs become stale and its import errors are cleared."""
    stale = list(
        await tx.scalars(
            select(dag.c.dag_id).where(dag.c.fileloc == fileloc, dag.c.is_stale.is_(False))
        )
    )
    if stale:
        await tx.execute(update(dag).where(dag.c.dag_id.in_(stale)).values(is_stale=True))
    await tx.execute(delete(import_error).where(import_error.c.filename == fileloc))
    return stale


async def known_files(tx: Transaction) -> set[str]:
    """Files that define active DAGs or have import errors."""
    files = set(await tx.scalars(select(dag.c.fileloc).where(dag.c.is_stale.is_(False))))
    files |= set(await tx.scalars(select(import_error.c.filename).distinct()))
    files.discard(None)
    return files


async def _upsert_dag(
    tx: Transaction, record: DagRecord, exists: bool, paused_by_default: bool, now: datetime
) -> None:
    values = {
        "is_stale": False,
        "last_parsed_time": now,
        "fileloc": record.fileloc,
        "relative_fileloc": record.relative_fileloc,
        "owners": record.owners,
        "dag_display_name": record.dag_id,
        "description": record.description,
        "timetable_summary": record.timetable_summary,
        "timetable_description": record.timetable_description,
        "max_active_tasks": record.max_active_tasks,
        "max_active_runs": record.max_active_runs,
        "max_consecutive_failed_dag_runs": record.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": record.has_task_concurrency_limits,
        "has_import_errors": False,
    }
    if exists:
        await tx.execute(update(dag).where(dag.c.dag_id == record.dag_id).values(**values))
        await tx.execute(delete(dag_tag).where(dag_tag.c.dag_id == record.dag_id))
    else:
        paused = (
            paused_by_default
            if record.is_paused_upon_creation is None
            else record.is_paused_upon_creation
        )
        await tx.execute(insert(dag).values(dag_id=record.dag_id, is_paused=paused, **values))
    if record.tags:
        await tx.execute(
            insert(dag_tag), [{"name": tag, "dag_id": record.dag_id} for tag in record.tags]
        )


async def _replace_import_errors(
    tx: Transaction, fileloc: str, errors: Sequence[tuple[str, str]], now: datetime
) -> None:
    await tx.execute(delete(import_error).where(import_error.c.filename == fileloc))
    if errors:
        await tx.execute(
            insert(import_error),
            [{"timestamp": now, "filename": fileloc, "stacktrace": text} for _, text in errors],
        )
