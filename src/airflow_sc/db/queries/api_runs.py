"""Read-side queries for DAG runs (the REST API's routes and the CLI's listings).

Filters arrive as plain dataclasses; a filter left at `None` does not constrain. Listings
speak the vocabulary of `airflow_sc.domain.listing` (patterns, ranges, order, pages).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    cast,
    delete,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.sql import Select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import (
    OrderColumns,
    name_clauses,
    order_clauses,
    range_clauses,
    read_page,
)
from airflow_sc.db.models import (
    dag,
    dag_run,
    serialized_dag,
    task_instance,
    task_instance_history,
    xcom,
)
from airflow_sc.db.url import Dialect
from airflow_sc.domain.listing import Listing, NamePattern, Page, Range

__all__ = [
    "DAG_RUN_ORDER_KEYS",
    "DagRunFilter",
    "DagRunRow",
    "DagVersionRow",
    "RecentRun",
    "dag_exists",
    "delete_dag_run",
    "get_dag_run",
    "list_dag_runs",
    "recent_runs_of_dags",
]


def seconds_between(
    dialect: Dialect, start: ColumnElement[Any], end: ColumnElement[Any]
) -> ColumnElement[float]:
    """`end - start` in seconds, NULL when either is NULL."""
    if dialect == "sqlite":
        # UtcDateTime stores naive UTC text on SQLite, which julianday() reads.
        return (func.julianday(end) - func.julianday(start)) * literal(86400.0)
    return cast(extract("epoch", end - start), Float)


# -- DAG runs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DagVersionRow:
    """One serialized version of a DAG; `version_number` counts from 1 in creation order."""

    id: str
    dag_id: str
    version_number: int
    created_at: datetime
    bundle_name: str | None
    bundle_version: str | None
    dag_display_name: str


@dataclass(frozen=True, slots=True)
class DagRunRow:
    id: int
    dag_id: str
    run_id: str
    state: str
    run_type: str
    triggered_by: str | None
    triggering_user_name: str | None
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    last_scheduling_decision: datetime | None
    conf: dict[str, Any] | None
    bundle_version: str | None
    updated_at: datetime | None
    dag_display_name: str
    note: str | None = None
    dag_version: DagVersionRow | None = None

    @property
    def duration(self) -> float | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


@dataclass(frozen=True, slots=True)
class DagRunFilter:
    """Which runs a listing returns; `dag_ids=None` means every DAG."""

    dag_ids: Sequence[str] | None = None
    states: Sequence[str] | None = None
    run_types: Sequence[str] | None = None
    run_after: Range[datetime] = field(default_factory=Range)
    logical_date: Range[datetime] = field(default_factory=Range)
    start_date: Range[datetime] = field(default_factory=Range)
    end_date: Range[datetime] = field(default_factory=Range)
    updated_at: Range[datetime] = field(default_factory=Range)
    duration: Range[float] = field(default_factory=Range)
    conf_contains: str | None = None
    dag_id_pattern: NamePattern = field(default_factory=NamePattern)
    run_id_pattern: NamePattern = field(default_factory=NamePattern)
    triggering_user_name_pattern: NamePattern = field(default_factory=NamePattern)
    bundle_version: str | None = None


_DAG_DISPLAY_NAME = func.coalesce(dag.c.dag_display_name, dag_run.c.dag_id)

_RUN_COLUMNS = (
    dag_run.c.id,
    dag_run.c.dag_id,
    dag_run.c.run_id,
    dag_run.c.state,
    dag_run.c.run_type,
    dag_run.c.triggered_by,
    dag_run.c.triggering_user_name,
    dag_run.c.logical_date,
    dag_run.c.data_interval_start,
    dag_run.c.data_interval_end,
    dag_run.c.run_after,
    dag_run.c.queued_at,
    dag_run.c.start_date,
    dag_run.c.end_date,
    dag_run.c.last_scheduling_decision,
    dag_run.c.conf,
    dag_run.c.bundle_version,
    dag_run.c.updated_at,
    _DAG_DISPLAY_NAME.label("dag_display_name"),
    dag_run.c.note,
    dag_run.c.created_dag_version_id,
)


def _run_order_columns(dialect: Dialect) -> OrderColumns:
    return {
        "id": dag_run.c.id,
        "state": dag_run.c.state,
        "dag_id": dag_run.c.dag_id,
        "run_id": dag_run.c.run_id,
        "logical_date": dag_run.c.logical_date,
        # airflow-sc has no partitioned runs: every partition_date is null.
        "partition_date": None,
        "run_after": dag_run.c.run_after,
        "start_date": dag_run.c.start_date,
        "end_date": dag_run.c.end_date,
        "updated_at": dag_run.c.updated_at,
        "conf": cast(dag_run.c.conf, String),
        "duration": seconds_between(dialect, dag_run.c.start_date, dag_run.c.end_date),
        "dag_run_id": dag_run.c.run_id,
    }


#: Attributes a run listing sorts by (Airflow's names, in its order).
DAG_RUN_ORDER_KEYS = tuple(_run_order_columns("sqlite"))


def _run_where(dialect: Dialect, where: DagRunFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if where.dag_ids is not None:
        out.append(dag_run.c.dag_id.in_(list(where.dag_ids)))
    if where.states is not None:
        out.append(dag_run.c.state.in_(list(where.states)))
    if where.run_types is not None:
        out.append(dag_run.c.run_type.in_(list(where.run_types)))
    out += range_clauses(dag_run.c.run_after, where.run_after)
    out += range_clauses(dag_run.c.logical_date, where.logical_date)
    out += range_clauses(dag_run.c.start_date, where.start_date)
    out += range_clauses(dag_run.c.end_date, where.end_date)
    out += range_clauses(dag_run.c.updated_at, where.updated_at)
    out += range_clauses(
        seconds_between(dialect, dag_run.c.start_date, dag_run.c.end_date), where.duration
    )
    if where.conf_contains:
        out.append(cast(dag_run.c.conf, String).contains(where.conf_contains, autoescape=True))
    out += name_clauses(dag_run.c.dag_id, where.dag_id_pattern)
    out += name_clauses(dag_run.c.run_id, where.run_id_pattern)
    out += name_clauses(dag_run.c.triggering_user_name, where.triggering_user_name_pattern)
    if where.bundle_version is not None:
        out.append(dag_run.c.bundle_version == where.bundle_version)
    return out


def version_number_column() -> ColumnElement[int]:
    """Correlated count: which version of its DAG a `serialized_dag` row is (1-based)."""
    older = serialized_dag.alias("older")
    return (
        select(func.count())
        .where(
            and_(
                older.c.dag_id == serialized_dag.c.dag_id,
                older.c.created_at <= serialized_dag.c.created_at,
            )
        )
        .scalar_subquery()
    )


async def load_dag_versions(tx: Transaction, ids: set[str]) -> dict[str, DagVersionRow]:
    """The `serialized_dag` versions named by `ids`, by id."""
    if not ids:
        return {}
    rows = await tx.execute(
        select(
            serialized_dag.c.id,
            serialized_dag.c.dag_id,
            version_number_column().label("version_number"),
            serialized_dag.c.created_at,
            dag.c.bundle_name,
            dag.c.bundle_version,
            func.coalesce(dag.c.dag_display_name, serialized_dag.c.dag_id).label(
                "dag_display_name"
            ),
        )
        .select_from(serialized_dag.outerjoin(dag, dag.c.dag_id == serialized_dag.c.dag_id))
        .where(serialized_dag.c.id.in_(sorted(ids)))
    )
    return {str(row.id): DagVersionRow(**{**row._mapping, "id": str(row.id)}) for row in rows}


async def with_dag_versions(tx: Transaction, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Each row's values, `created_dag_version_id` replaced by the `dag_version` it names
    (loaded for all rows in one query)."""
    versions = await load_dag_versions(
        tx, {str(r.created_dag_version_id) for r in rows if r.created_dag_version_id}
    )
    out = []
    for row in rows:
        values = dict(row._mapping)
        version_id = values.pop("created_dag_version_id")
        values["dag_version"] = versions.get(str(version_id)) if version_id else None
        out.append(values)
    return out


async def _to_run_rows(tx: Transaction, rows: Sequence[Any]) -> list[DagRunRow]:
    return [DagRunRow(**values) for values in await with_dag_versions(tx, rows)]


def _run_select() -> Select[Any]:
    return select(*_RUN_COLUMNS).select_from(
        dag_run.outerjoin(dag, dag.c.dag_id == dag_run.c.dag_id)
    )


async def list_dag_runs(db: Database, where: DagRunFilter, listing: Listing) -> Page[DagRunRow]:
    """Raises `UnknownOrderField` before touching the database."""
    dialect = db.dialect
    query = (
        _run_select()
        .where(*_run_where(dialect, where))
        .order_by(*order_clauses(listing, _run_order_columns(dialect), [dag_run.c.id]))
    )

    return await read_page(db, query, listing, _to_run_rows)


async def get_dag_run(db: Database, dag_id: str, run_id: str) -> DagRunRow | None:
    async def body(tx: Transaction) -> DagRunRow | None:
        row = (
            await tx.execute(
                _run_select().where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
            )
        ).first()
        return None if row is None else (await _to_run_rows(tx, [row]))[0]

    return await db.run(body, write=False)


async def dag_exists(db: Database, dag_id: str) -> bool:
    async def body(tx: Transaction) -> bool:
        return (await tx.scalar(select(dag.c.dag_id).where(dag.c.dag_id == dag_id))) is not None

    return await db.run(body, write=False)


async def delete_dag_run(
    db: Database, dag_id: str, run_id: str, *, refuse_states: Collection[str] = ()
) -> Literal["deleted", "missing", "refused"]:
    """Delete a run with its task instances, their history and XComs.

    A run whose state is in `refuse_states` is left alone ("refused"); the state is read
    under the row lock, so a run cannot start between the check and the delete.
    Children are deleted explicitly rather than left to `ON DELETE CASCADE`, which SQLite
    honours only on connections with foreign keys enabled.
    """

    async def body(tx: Transaction) -> Literal["deleted", "missing", "refused"]:
        row = (
            await tx.execute(
                select(dag_run.c.id, dag_run.c.state)
                .where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return "missing"
        if row.state in refuse_states:
            return "refused"
        await tx.execute(delete(xcom).where(xcom.c.dag_run_id == row.id))
        await tx.execute(
            delete(task_instance_history).where(
                task_instance_history.c.dag_id == dag_id,
                task_instance_history.c.run_id == run_id,
            )
        )
        await tx.execute(
            delete(task_instance).where(
                task_instance.c.dag_id == dag_id, task_instance.c.run_id == run_id
            )
        )
        await tx.execute(delete(dag_run).where(dag_run.c.id == row.id))
        return "deleted"

    return await db.run(body)


@dataclass(frozen=True, slots=True)
class RecentRun:
    """A run as the DAG list's state bars show it."""

    dag_id: str
    run_id: str
    state: str
    run_after: datetime


async def recent_runs_of_dags(
    db: Database, dag_ids: Sequence[str], per_dag: int
) -> dict[str, list[RecentRun]]:
    """The newest `per_dag` runs (by `run_after`) of each DAG, newest first, in one
    statement (a window function: SQLite >= 3.25 and PostgreSQL both have them)."""
    if not dag_ids or per_dag <= 0:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=dag_run.c.dag_id,
            order_by=(dag_run.c.run_after.desc(), dag_run.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(dag_run.c.dag_id, dag_run.c.run_id, dag_run.c.state, dag_run.c.run_after, rank)
        .where(dag_run.c.dag_id.in_(list(dag_ids)))
        .subquery()
    )
    query = (
        select(ranked.c.dag_id, ranked.c.run_id, ranked.c.state, ranked.c.run_after)
        .where(ranked.c.rank <= per_dag)
        .order_by(ranked.c.dag_id, ranked.c.rank)
    )

    async def body(tx: Transaction) -> dict[str, list[RecentRun]]:
        out: dict[str, list[RecentRun]] = {}
        for row in await tx.execute(query):
            out.setdefault(row.dag_id, []).append(RecentRun(**row._mapping))
        return out

    return await db.run(body, write=False)


async def dags_of_runs(db: Database, run_pks: Collection[int]) -> dict[int, str]:
    """The DAG of each of `run_pks` that exists (by `dag_run.id`)."""

    async def body(tx: Transaction) -> dict[int, str]:
        rows = await tx.execute(
            select(dag_run.c.id, dag_run.c.dag_id).where(dag_run.c.id.in_(sorted(run_pks)))
        )
        return {int(row.id): str(row.dag_id) for row in rows}

    return await db.run(body, write=False)
