"""Queries behind the REST API's DAG, tag, stats, source and import-error routes."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import UnaryExpression

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import (
    dag,
    dag_run,
    dag_tag,
    import_error,
    serialized_dag,
    task_instance,
    task_instance_history,
    xcom,
)

__all__ = [
    "DAG_ORDER_COLUMNS",
    "IMPORT_ERROR_ORDER_COLUMNS",
    "DagFilter",
    "DagRow",
    "DagSourceInfo",
    "ImportErrorRow",
    "Order",
    "count_runs_by_state",
    "delete_dag",
    "get_dag",
    "get_dag_source_info",
    "get_import_error",
    "latest_serialized_dag",
    "list_dag_tags",
    "list_dags",
    "list_import_errors",
]

#: (column key, descending) pairs, as `api.parameters.parse_order_by` produces them.
Order = Sequence[tuple[str, bool]]

DAG_ORDER_COLUMNS = {
    "dag_id": "dag_id",
    "dag_display_name": "dag_display_name",
    "next_dagrun": "next_dagrun",
    "last_parsed_time": "last_parsed_time",
    "is_paused": "is_paused",
}
IMPORT_ERROR_ORDER_COLUMNS = {
    "id": "id",
    "import_error_id": "id",
    "timestamp": "timestamp",
    "filename": "filename",
    "bundle_name": "bundle_name",
}


@dataclass(frozen=True, slots=True)
class DagFilter:
    """The filters of `GET /dags` and `PATCH /dags`; None means "do not filter"."""

    dag_id_pattern: str | None = None
    dag_id_prefix_pattern: str | None = None
    dag_display_name_pattern: str | None = None
    dag_display_name_prefix_pattern: str | None = None
    tags: Sequence[str] = ()
    tags_match_mode: Literal["any", "all"] | None = None
    owners: Sequence[str] = ()
    exclude_stale: bool = True
    paused: bool | None = None
    has_import_errors: bool | None = None
    bundle_name: str | None = None
    bundle_version: str | None = None
    last_dag_run_state: str | None = None
    dag_ids: Sequence[str] | None = None
    has_asset_schedule: bool | None = None
    #: (dag_run column, comparison) -> bound: DAGs with a run inside all the bounds.
    dag_run_bounds: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    #: DAGs with a run in any of these states.
    dag_run_states: Sequence[str] = ()
    match_nothing: bool = False


@dataclass(frozen=True, slots=True)
class DagRow:
    dag_id: str
    dag_display_name: str | None
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None
    bundle_name: str | None
    bundle_version: str | None
    relative_fileloc: str | None
    fileloc: str | None
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    max_active_tasks: int
    max_active_runs: int | None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_create_after: datetime | None
    owners: str | None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportErrorRow:
    id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None
    stacktrace: str | None


@dataclass(frozen=True, slots=True)
class DagSourceInfo:
    dag_id: str
    dag_display_name: str | None
    fileloc: str | None
    version_number: int | None


_DAG_COLUMNS = [dag.c[name] for name in DagRow.__dataclass_fields__ if name != "tags"]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern(column: Any, pattern: str) -> ColumnElement[bool]:
    """Airflow's `*_pattern`: case-insensitive substring; `~` or `%` alone matches all."""
    if pattern in ("~", "%"):
        return true()
    matches: ColumnElement[bool] = func.lower(column).like(
        f"%{_like_escape(pattern.lower())}%", escape="\\"
    )
    return matches


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    matches: ColumnElement[bool] = column.like(f"{_like_escape(prefix)}%", escape="\\")
    return matches


_COMPARE: Final = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def _conditions(f: DagFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.match_nothing:
        out.append(false())
    if f.has_asset_schedule is not None:
        scheduled = dag.c.asset_expression.is_not(None)
        out.append(scheduled if f.has_asset_schedule else dag.c.asset_expression.is_(None))
    if f.dag_run_bounds or f.dag_run_states:
        runs = [dag_run.c.dag_id == dag.c.dag_id]
        runs += [
            _COMPARE[op](dag_run.c[col], bound) for (col, op), bound in f.dag_run_bounds.items()
        ]
        if f.dag_run_states:
            runs.append(dag_run.c.state.in_(list(f.dag_run_states)))
        out.append(exists().where(*runs))
    if f.exclude_stale:
        out.append(dag.c.is_stale.is_(False))
    if f.dag_ids is not None:
        out.append(dag.c.dag_id.in_(list(f.dag_ids)))
    if f.dag_id_pattern:
        out.append(_pattern(dag.c.dag_id, f.dag_id_pattern))
    if f.dag_id_prefix_pattern:
        out.append(_prefix(dag.c.dag_id, f.dag_id_prefix_pattern))
    display = func.coalesce(dag.c.dag_display_name, dag.c.dag_id)
    if f.dag_display_name_pattern:
        out.append(_pattern(display, f.dag_display_name_pattern))
    if f.dag_display_name_prefix_pattern:
        out.append(_prefix(display, f.dag_display_name_prefix_pattern))
    if f.paused is not None:
        out.append(dag.c.is_paused.is_(f.paused))
    if f.has_import_errors is not None:
        out.append(dag.c.has_import_errors.is_(f.has_import_errors))
    if f.bundle_name is not None:
        out.append(dag.c.bundle_name == f.bundle_name)
    if f.bundle_version is not None:
        out.append(dag.c.bundle_version == f.bundle_version)
    if f.tags:
        tagged = [
            exists().where(dag_tag.c.dag_id == dag.c.dag_id, dag_tag.c.name == tag)
            for tag in f.tags
        ]
        out.append(and_(*tagged) if f.tags_match_mode == "all" else or_(*tagged))
    if f.owners:
        # `owners` is stored as "a, b": match whole names.
        padded = func.replace(func.coalesce(dag.c.owners, ""), " ", "")
        out.append(or_(*(("," + padded + ",").contains(f",{o.strip()},") for o in f.owners)))
    if f.last_dag_run_state is not None:
        latest = (
            select(dag_run.c.state)
            .where(dag_run.c.dag_id == dag.c.dag_id)
            .order_by(dag_run.c.run_after.desc(), dag_run.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        out.append(latest == f.last_dag_run_state)
    return out


def _ordering(order: Order, table: Any) -> list[UnaryExpression[Any]]:
    return [table.c[key].desc() if desc else table.c[key].asc() for key, desc in order]


def _dag_row(mapping: Any, tags: list[str]) -> DagRow:
    return DagRow(**{c.key: mapping[c.key] for c in _DAG_COLUMNS}, tags=tags)


async def _tags_of(tx: Transaction, dag_ids: Sequence[str]) -> dict[str, list[str]]:
    if not dag_ids:
        return {}
    rows = await tx.execute(
        select(dag_tag.c.dag_id, dag_tag.c.name)
        .where(dag_tag.c.dag_id.in_(list(dag_ids)))
        .order_by(dag_tag.c.name)
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row.dag_id, []).append(row.name)
    return out


async def _select_dags(
    tx: Transaction, f: DagFilter, order: Order, limit: int, offset: int
) -> tuple[list[DagRow], int]:
    conditions = _conditions(f)
    total = int(await tx.scalar(select(func.count()).select_from(dag).where(*conditions)))
    query: Select[Any] = (
        select(*_DAG_COLUMNS)
        .where(*conditions)
        .order_by(*_ordering(order, dag))
        .limit(limit)
        .offset(offset)
    )
    rows = (await tx.execute(query)).mappings()
    tags = await _tags_of(tx, [r["dag_id"] for r in rows])
    return [_dag_row(r, tags.get(r["dag_id"], [])) for r in rows], total


async def list_dags(
    db: Database, f: DagFilter, order: Order, *, limit: int, offset: int
) -> tuple[list[DagRow], int]:
    """One page of DAGs and the number matching in all."""

    async def body(tx: Transaction) -> tuple[list[DagRow], int]:
        return await _select_dags(tx, f, order, limit, offset)

    return await db.run(body, write=False)


async def get_dag(db: Database, dag_id: str) -> DagRow | None:
    async def body(tx: Transaction) -> DagRow | None:
        rows, _ = await _select_dags(tx, DagFilter(dag_ids=[dag_id], exclude_stale=False), [], 1, 0)
        return rows[0] if rows else None

    return await db.run(body, write=False)


async def delete_dag(db: Database, dag_id: str) -> Literal["deleted", "missing", "running"]:
    """Delete a DAG and its history (runs, task instances, XCom, versions, tags).

    Refused ("running") while one of its task instances runs; the file, if still in the
    dags folder, brings the DAG back on its next parse.
    """

    async def body(tx: Transaction) -> Literal["deleted", "missing", "running"]:
        found = await tx.scalar(
            select(dag.c.dag_id).where(dag.c.dag_id == dag_id).with_for_update()
        )
        if found is None:
            return "missing"
        running = await tx.scalar(
            select(func.count())
            .select_from(task_instance)
            .where(task_instance.c.dag_id == dag_id, task_instance.c.state == "running")
        )
        if running:
            return "running"
        for table in (xcom, task_instance_history, task_instance, dag_run, serialized_dag, dag_tag):
            await tx.execute(delete(table).where(table.c.dag_id == dag_id))
        await tx.execute(delete(dag).where(dag.c.dag_id == dag_id))
        return "deleted"

    return await db.run(body)


async def latest_serialized_dag(
    db: Database, dag_id: str
) -> tuple[DagRow, dict[str, Any] | None, int] | None:
    """The DAG row, its newest serialized data, and its version number (count of versions)."""

    async def body(tx: Transaction) -> tuple[DagRow, dict[str, Any] | None, int] | None:
        rows, _ = await _select_dags(tx, DagFilter(dag_ids=[dag_id], exclude_stale=False), [], 1, 0)
        if not rows:
            return None
        data = await tx.scalar(
            select(serialized_dag.c.data)
            .where(serialized_dag.c.dag_id == dag_id)
            .order_by(serialized_dag.c.created_at.desc())
            .limit(1)
        )
        versions = int(
            await tx.scalar(
                select(func.count())
                .select_from(serialized_dag)
                .where(serialized_dag.c.dag_id == dag_id)
            )
        )
        return rows[0], (None if data is None else dict(data)), versions

    return await db.run(body, write=False)


async def get_dag_source_info(db: Database, dag_id: str) -> DagSourceInfo | None:
    async def body(tx: Transaction) -> DagSourceInfo | None:
        row = (
            await tx.execute(
                select(dag.c.dag_id, dag.c.dag_display_name, dag.c.fileloc).where(
                    dag.c.dag_id == dag_id
                )
            )
        ).first()
        if row is None:
            return None
        versions = int(
            await tx.scalar(
                select(func.count())
                .select_from(serialized_dag)
                .where(serialized_dag.c.dag_id == dag_id)
            )
        )
        return DagSourceInfo(row.dag_id, row.dag_display_name, row.fileloc, versions or None)

    return await db.run(body, write=False)


async def list_dag_tags(
    db: Database,
    *,
    pattern: str | None,
    prefix: str | None,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[str], int]:
    async def body(tx: Transaction) -> tuple[list[str], int]:
        names = select(dag_tag.c.name).distinct()
        if pattern:
            names = names.where(_pattern(dag_tag.c.name, pattern))
        if prefix:
            names = names.where(_prefix(dag_tag.c.name, prefix))
        sub = names.subquery()
        total = int(await tx.scalar(select(func.count()).select_from(sub)))
        order = sub.c.name.desc() if descending else sub.c.name.asc()
        page = await tx.scalars(select(sub.c.name).order_by(order).limit(limit).offset(offset))
        return [str(n) for n in page], total

    return await db.run(body, write=False)


async def count_runs_by_state(
    db: Database, dag_ids: Sequence[str] | None
) -> list[tuple[str, str | None, dict[str, int]]]:
    """(dag_id, display name, {run state: count}) for each selected, non-stale DAG."""

    async def body(tx: Transaction) -> list[tuple[str, str | None, dict[str, int]]]:
        dags = select(dag.c.dag_id, dag.c.dag_display_name).order_by(dag.c.dag_id)
        if dag_ids:
            dags = dags.where(dag.c.dag_id.in_(list(dag_ids)))
        else:
            dags = dags.where(dag.c.is_stale.is_(False))
        found = (await tx.execute(dags)).all()
        ids = [r.dag_id for r in found]
        counts: dict[str, dict[str, int]] = {i: {} for i in ids}
        if ids:
            rows = await tx.execute(
                select(dag_run.c.dag_id, dag_run.c.state, func.count().label("n"))
                .where(dag_run.c.dag_id.in_(ids))
                .group_by(dag_run.c.dag_id, dag_run.c.state)
            )
            for row in rows:
                counts[row.dag_id][row.state] = int(row.n)
        return [(r.dag_id, r.dag_display_name, counts[r.dag_id]) for r in found]

    return await db.run(body, write=False)


_IMPORT_ERROR_COLUMNS = [
    import_error.c.id,
    import_error.c.timestamp,
    import_error.c.filename,
    import_error.c.bundle_name,
    import_error.c.stacktrace,
]


async def list_import_errors(
    db: Database,
    *,
    filename_pattern: str | None,
    filename_prefix: str | None,
    filename: str | None,
    bundle_name: str | None,
    order: Order,
    limit: int,
    offset: int,
) -> tuple[list[ImportErrorRow], int]:
    async def body(tx: Transaction) -> tuple[list[ImportErrorRow], int]:
        conditions = []
        if filename_pattern:
            conditions.append(_pattern(import_error.c.filename, filename_pattern))
        if filename_prefix:
            conditions.append(_prefix(import_error.c.filename, filename_prefix))
        if filename is not None:
            conditions.append(import_error.c.filename == filename)
        if bundle_name is not None:
            conditions.append(import_error.c.bundle_name == bundle_name)
        total = int(
            await tx.scalar(select(func.count()).select_from(import_error).where(*conditions))
        )
        rows = await tx.execute(
            select(*_IMPORT_ERROR_COLUMNS)
            .where(*conditions)
            .order_by(*_ordering(order, import_error))
            .limit(limit)
            .offset(offset)
        )
        return [ImportErrorRow(**r._mapping) for r in rows], total

    return await db.run(body, write=False)


async def get_import_error(db: Database, import_error_id: int) -> ImportErrorRow | None:
    async def body(tx: Transaction) -> ImportErrorRow | None:
        row = (
            await tx.execute(
                select(*_IMPORT_ERROR_COLUMNS).where(import_error.c.id == import_error_id)
            )
        ).first()
        return None if row is None else ImportErrorRow(**row._mapping)

    return await db.run(body, write=False)
