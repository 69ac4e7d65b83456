"""Queries behind the REST API's DAG, tag, stats, source and import-error routes (and the
CLI's DAG listings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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
)

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import (
    OrderColumns,
    each_row,
    name_clauses,
    order_clauses,
    range_clauses,
    read_page,
)
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
from airflow_sc.domain.listing import Listing, NamePattern, Page, Range

__all__ = [
    "DAG_ORDER_KEYS",
    "DAG_TAG_ORDER_KEYS",
    "IMPORT_ERROR_ORDER_KEYS",
    "DagFilter",
    "DagRow",
    "DagSourceInfo",
    "ImportErrorFilter",
    "ImportErrorRow",
    "count_runs_by_state",
    "delete_dag",
    "get_dag",
    "get_dag_source_info",
    "get_import_error",
    "latest_serialized_dag",
    "list_dag_tags",
    "list_dags",
    "list_import_errors",
    "newest_serialized_dag",
]


@dataclass(frozen=True, slots=True)
class DagFilter:
    """The filters of `GET /dags` and `PATCH /dags`; None means "do not filter"."""

    dag_id: NamePattern = field(default_factory=NamePattern)
    dag_display_name: NamePattern = field(default_factory=NamePattern)
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
    #: DAGs with a run whose start and end dates are within these bounds.
    dag_run_start_date: Range[datetime] = field(default_factory=Range)
    dag_run_end_date: Range[datetime] = field(default_factory=Range)
    #: DAGs with a run in any of these states.
    dag_run_states: Sequence[str] = ()
    match_nothing: bool = False


@dataclass(frozen=True, slots=True)
class ImportErrorFilter:
    filename: NamePattern = field(default_factory=NamePattern)
    #: The exact file name.
    path: str | None = None
    bundle_name: str | None = None


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


def _latest_run(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`column` of the DAG's latest run (by `run_after`), correlated to `dag`."""
    return (
        select(column)
        .where(dag_run.c.dag_id == dag.c.dag_id)
        .order_by(dag_run.c.run_after.desc(), dag_run.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_DISPLAY_NAME = func.coalesce(dag.c.dag_display_name, dag.c.dag_id)

_DAG_ORDER_COLUMNS: OrderColumns = {
    "dag_id": dag.c.dag_id,
    "dag_display_name": _DISPLAY_NAME,
    "next_dagrun": dag.c.next_dagrun,
    # As Airflow: `state` and `start_date` are those of the DAG's latest run.
    "state": _latest_run(dag_run.c.state),
    "start_date": _latest_run(dag_run.c.start_date),
    "last_run_state": _latest_run(dag_run.c.state),
    "last_run_start_date": _latest_run(dag_run.c.start_date),
}
#: Attributes a DAG listing sorts by (Airflow's names, in its order).
DAG_ORDER_KEYS = tuple(_DAG_ORDER_COLUMNS)
DAG_TAG_ORDER_KEYS = ("name",)

_IMPORT_ERROR_ORDER_COLUMNS: OrderColumns = {
    "id": import_error.c.id,
    "timestamp": import_error.c.timestamp,
    "filename": import_error.c.filename,
    "bundle_name": import_error.c.bundle_name,
    "stacktrace": import_error.c.stacktrace,
    "import_error_id": import_error.c.id,
}
IMPORT_ERROR_ORDER_KEYS = tuple(_IMPORT_ERROR_ORDER_COLUMNS)


def _conditions(f: DagFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.match_nothing:
        out.append(false())
    if f.has_asset_schedule is not None:
        scheduled = dag.c.asset_expression.is_not(None)
        out.append(scheduled if f.has_asset_schedule else dag.c.asset_expression.is_(None))
    run_bounds = [
        *range_clauses(dag_run.c.start_date, f.dag_run_start_date),
        *range_clauses(dag_run.c.end_date, f.dag_run_end_date),
    ]
    if run_bounds or f.dag_run_states:
        runs = [dag_run.c.dag_id == dag.c.dag_id, *run_bounds]
        if f.dag_run_states:
            runs.append(dag_run.c.state.in_(list(f.dag_run_states)))
        out.append(exists().where(*runs))
    if f.exclude_stale:
        out.append(dag.c.is_stale.is_(False))
    if f.dag_ids is not None:
        out.append(dag.c.dag_id.in_(list(f.dag_ids)))
    out += name_clauses(dag.c.dag_id, f.dag_id)
    out += name_clauses(_DISPLAY_NAME, f.dag_display_name)
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
        owned = ("," + padded + ",").contains
        out.append(or_(*(owned(f",{o.strip()},", autoescape=True) for o in f.owners)))
    if f.last_dag_run_state is not None:
        out.append(_latest_run(dag_run.c.state) == f.last_dag_run_state)
    return out


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


def _dags_query(f: DagFilter, listing: Listing) -> Select[Any]:
    return (
        select(*_DAG_COLUMNS)
        .where(*_conditions(f))
        .order_by(*order_clauses(listing, _DAG_ORDER_COLUMNS, [dag.c.dag_id]))
    )


async def _with_tags(tx: Transaction, rows: list[Any]) -> list[DagRow]:
    tags = await _tags_of(tx, [r.dag_id for r in rows])
    return [_dag_row(r._mapping, tags.get(r.dag_id, [])) for r in rows]


async def list_dags(db: Database, f: DagFilter, listing: Listing) -> Page[DagRow]:
    """One page of DAGs with their tags, and the number matching in all.

    Raises `UnknownOrderField` before touching the database.
    """
    return await read_page(db, _dags_query(f, listing), listing, _with_tags)


def _one_dag(dag_id: str) -> Select[Any]:
    return _dags_query(DagFilter(dag_ids=[dag_id], exclude_stale=False), Listing())


async def _get_dag(tx: Transaction, dag_id: str) -> DagRow | None:
    found = await _with_tags(tx, (await tx.execute(_one_dag(dag_id))).all())
    return found[0] if found else None


async def get_dag(db: Database, dag_id: str) -> DagRow | None:
    async def body(tx: Transaction) -> DagRow | None:
        return await _get_dag(tx, dag_id)

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
        row = await _get_dag(tx, dag_id)
        if row is None:
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
        return row, (None if data is None else dict(data)), versions

    return await db.run(body, write=False)


async def newest_serialized_dag(
    db: Database, dag_id: str, *, with_data: bool
) -> tuple[DagRow, str | None, dict[str, Any] | None] | None:
    """The DAG row, a key naming its newest serialized version (its row id and hash;
    None without one) and, when `with_data`, that version's data: a reader that keeps
    what it made of the data may skip loading it again while the key is the same."""

    async def body(tx: Transaction) -> tuple[DagRow, str | None, dict[str, Any] | None] | None:
        row = await _get_dag(tx, dag_id)
        if row is None:
            return None
        columns = [serialized_dag.c.id, serialized_dag.c.dag_hash]
        if with_data:
            columns.append(serialized_dag.c.data)
        newest = (
            await tx.execute(
                select(*columns)
                .where(serialized_dag.c.dag_id == dag_id)
                .order_by(serialized_dag.c.created_at.desc())
                .limit(1)
            )
        ).first()
        if newest is None:
            return row, None, None
        data = dict(newest.data) if with_data else None
        return row, f"{newest.id}:{newest.dag_hash}", data

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


async def list_dag_tags(db: Database, name: NamePattern, listing: Listing) -> Page[str]:
    """The distinct tag names of all DAGs."""
    names = select(dag_tag.c.name).distinct().where(*name_clauses(dag_tag.c.name, name))
    sub = names.subquery()
    query = select(sub.c.name).order_by(*order_clauses(listing, {"name": sub.c.name}, [sub.c.name]))

    return await read_page(db, query, listing, each_row(lambda r: str(r.name)))


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
    db: Database, where: ImportErrorFilter, listing: Listing
) -> Page[ImportErrorRow]:
    conditions = name_clauses(import_error.c.filename, where.filename)
    if where.path is not None:
        conditions.append(import_error.c.filename == where.path)
    if where.bundle_name is not None:
        conditions.append(import_error.c.bundle_name == where.bundle_name)
    query = (
        select(*_IMPORT_ERROR_COLUMNS)
        .where(*conditions)
        .order_by(*order_clauses(listing, _IMPORT_ERROR_ORDER_COLUMNS, [import_error.c.id]))
    )

    return await read_page(db, query, listing, each_row(lambda r: ImportErrorRow(**r._mapping)))


async def get_import_error(db: Database, import_error_id: int) -> ImportErrorRow | None:
    async def body(tx: Transaction) -> ImportErrorRow | None:
        row = (
            await tx.execute(
                select(*_IMPORT_ERROR_COLUMNS).where(import_error.c.id == import_error_id)
            )
        ).first()
        return None if row is None else ImportErrorRow(**row._mapping)

    return await db.run(body, write=False)
