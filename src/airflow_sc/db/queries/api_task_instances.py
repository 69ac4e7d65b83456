"""Read-side queries for task instances (the REST API's routes and lookups, the CLI's listings).

A task instance row is joined with its run (logical date, run_after, DAG version), its DAG
(display name) and, while deferred, its trigger and the triggerer job running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, null, or_, select
from sqlalchemy.sql import Select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import (
    OrderColumns,
    name_clauses,
    order_clauses,
    range_clauses,
    read_page,
)
from airflow_sc.db.models import dag, dag_run, job, task_instance, task_instance_history, trigger
from airflow_sc.db.queries.api_runs import DagVersionRow, with_dag_versions
from airflow_sc.domain.listing import Listing, NamePattern, Page, Range

__all__ = [
    "TASK_INSTANCE_ORDER_KEYS",
    "JobRow",
    "TaskInstanceFilter",
    "TaskInstanceRow",
    "TaskInstanceTryRow",
    "TriggerRow",
    "get_task_instance",
    "list_task_instance_tries",
    "list_task_instances",
    "task_instance_state",
]

#: Names a client may use for "no state yet" in a `state` filter.
NO_STATE_NAMES = frozenset({"none", "null", "no_status"})


@dataclass(frozen=True, slots=True)
class TriggerRow:
    id: int
    classpath: str
    kwargs: str
    created_date: datetime
    queue: str | None
    triggerer_id: int | None


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    dag_id: str | None
    state: str | None
    job_type: str | None
    start_date: datetime | None
    end_date: datetime | None
    latest_heartbeat: datetime | None
    executor_class: str | None
    hostname: str | None
    unixname: str | None


@dataclass(frozen=True, slots=True)
class TaskInstanceTryRow:
    """What a task instance and each of its recorded tries have in common."""

    task_id: str
    dag_id: str
    run_id: str
    map_index: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    state: str | None
    try_number: int
    max_tries: int
    task_display_name: str
    dag_display_name: str
    hostname: str | None
    unixname: str | None
    pool: str
    pool_slots: int
    queue: str | None
    priority_weight: int | None
    operator: str | None
    operator_name: str | None
    queued_dttm: datetime | None
    scheduled_dttm: datetime | None
    pid: int | None
    executor: str | None
    executor_config: Any
    dag_version: DagVersionRow | None


@dataclass(frozen=True, slots=True)
class TaskInstanceRow(TaskInstanceTryRow):
    id: str
    logical_date: datetime | None
    run_after: datetime
    rendered_map_index: str | None
    rendered_fields: dict[str, Any] | None
    trigger: TriggerRow | None
    triggerer_job: JobRow | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TaskInstanceFilter:
    """Which task instances a listing returns; `None` does not constrain.

    In `states`, `None` (or "none"/"null"/"no_status") selects task instances without a state.
    """

    dag_ids: Sequence[str] | None = None
    run_ids: Sequence[str] | None = None
    task_ids: Sequence[str] | None = None
    states: Sequence[str | None] | None = None
    run_after: Range[datetime] = field(default_factory=Range)
    logical_date: Range[datetime] = field(default_factory=Range)
    start_date: Range[datetime] = field(default_factory=Range)
    end_date: Range[datetime] = field(default_factory=Range)
    updated_at: Range[datetime] = field(default_factory=Range)
    duration: Range[float] = field(default_factory=Range)
    pools: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    executors: Sequence[str] | None = None
    operators: Sequence[str] | None = None
    try_numbers: Sequence[int] | None = None
    map_indexes: Sequence[int] | None = None
    dag_id_pattern: NamePattern = field(default_factory=NamePattern)
    run_id_pattern: NamePattern = field(default_factory=NamePattern)
    task_display_name_pattern: NamePattern = field(default_factory=NamePattern)
    pool_pattern: NamePattern = field(default_factory=NamePattern)
    queue_pattern: NamePattern = field(default_factory=NamePattern)
    operator_pattern: NamePattern = field(default_factory=NamePattern)
    rendered_map_index_pattern: NamePattern = field(default_factory=NamePattern)


_TI = task_instance
_TASK_DISPLAY_NAME = func.coalesce(_TI.c.task_display_name, _TI.c.task_id)
_OPERATOR_NAME = func.coalesce(_TI.c.custom_operator_name, _TI.c.operator)


def _try_columns(table: Table) -> list[ColumnElement[Any]]:
    return [
        table.c.task_id,
        table.c.dag_id,
        table.c.run_id,
        table.c.map_index,
        table.c.start_date,
        table.c.end_date,
        table.c.duration,
        table.c.state,
        table.c.try_number,
        table.c.max_tries,
        func.coalesce(table.c.task_display_name, table.c.task_id).label("task_display_name"),
        func.coalesce(dag.c.dag_display_name, table.c.dag_id).label("dag_display_name"),
        table.c.hostname,
        table.c.unixname,
        table.c.pool,
        table.c.pool_slots,
        table.c.queue,
        table.c.priority_weight,
        table.c.operator,
        func.coalesce(table.c.custom_operator_name, table.c.operator).label("operator_name"),
        table.c.queued_dttm,
        table.c.scheduled_dttm,
        table.c.pid,
        table.c.executor,
        table.c.executor_config,
        dag_run.c.created_dag_version_id,
    ]


_TRIGGER_COLUMNS = [
    trigger.c.id.label("trigger__id"),
    trigger.c.classpath.label("trigger__classpath"),
    trigger.c.kwargs.label("trigger__kwargs"),
    trigger.c.created_date.label("trigger__created_date"),
    trigger.c.queue.label("trigger__queue"),
    trigger.c.triggerer_id.label("trigger__triggerer_id"),
]
_JOB_COLUMNS = [
    column.label(f"job__{column.name}")
    for column in (
        job.c.id,
        job.c.dag_id,
        job.c.state,
        job.c.job_type,
        job.c.start_date,
        job.c.end_date,
        job.c.latest_heartbeat,
        job.c.executor_class,
        job.c.hostname,
        job.c.unixname,
    )
]


def _ti_select() -> Select[Any]:
    return select(
        *_try_columns(_TI),
        _TI.c.id,
        dag_run.c.logical_date,
        dag_run.c.run_after,
        _TI.c.rendered_map_index,
        _TI.c.rendered_fields,
        _TI.c.note,
        *_TRIGGER_COLUMNS,
        *_JOB_COLUMNS,
    ).select_from(
        _TI.join(dag_run, and_(dag_run.c.dag_id == _TI.c.dag_id, dag_run.c.run_id == _TI.c.run_id))
        .outerjoin(dag, dag.c.dag_id == _TI.c.dag_id)
        .outerjoin(trigger, trigger.c.id == _TI.c.trigger_id)
        .outerjoin(job, job.c.id == trigger.c.triggerer_id)
    )


_ORDER_COLUMNS: OrderColumns = {
    "id": _TI.c.id,
    "state": _TI.c.state,
    "duration": _TI.c.duration,
    "start_date": _TI.c.start_date,
    "end_date": _TI.c.end_date,
    "map_index": _TI.c.map_index,
    "try_number": _TI.c.try_number,
    "logical_date": dag_run.c.logical_date,
    "run_after": dag_run.c.run_after,
    "data_interval_start": dag_run.c.data_interval_start,
    "data_interval_end": dag_run.c.data_interval_end,
    "rendered_map_index": _TI.c.rendered_map_index,
    "operator": _TI.c.operator,
}
#: Attributes a listing sorts by (Airflow's names, in its order).
TASK_INSTANCE_ORDER_KEYS = tuple(_ORDER_COLUMNS)
_TIEBREAK = [_TI.c.dag_id, _TI.c.run_id, _TI.c.task_id, _TI.c.map_index]


def _state_clause(states: Sequence[str | None]) -> ColumnElement[bool]:
    named = [s for s in states if s is not None and s.lower() not in NO_STATE_NAMES]
    clauses: list[ColumnElement[bool]] = []
    if named:
        clauses.append(_TI.c.state.in_(named))
    if len(named) < len(states):
        clauses.append(_TI.c.state.is_(null()))
    return or_(*clauses)


def _in(column: ColumnElement[Any], values: Sequence[Any] | None) -> list[ColumnElement[bool]]:
    return [] if values is None else [column.in_(list(values))]


def _ti_where(where: TaskInstanceFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [
        *_in(_TI.c.dag_id, where.dag_ids),
        *_in(_TI.c.run_id, where.run_ids),
        *_in(_TI.c.task_id, where.task_ids),
        *_in(_TI.c.pool, where.pools),
        *_in(_TI.c.queue, where.queues),
        *_in(_TI.c.executor, where.executors),
        *_in(_TI.c.operator, where.operators),
        *_in(_TI.c.try_number, where.try_numbers),
        *_in(_TI.c.map_index, where.map_indexes),
    ]
    if where.states is not None:
        out.append(_state_clause(where.states))
    out += range_clauses(dag_run.c.run_after, where.run_after)
    out += range_clauses(dag_run.c.logical_date, where.logical_date)
    out += range_clauses(_TI.c.start_date, where.start_date)
    out += range_clauses(_TI.c.end_date, where.end_date)
    out += range_clauses(_TI.c.updated_at, where.updated_at)
    out += range_clauses(_TI.c.duration, where.duration)
    out += name_clauses(_TI.c.dag_id, where.dag_id_pattern)
    out += name_clauses(_TI.c.run_id, where.run_id_pattern)
    out += name_clauses(_TASK_DISPLAY_NAME, where.task_display_name_pattern)
    out += name_clauses(_TI.c.pool, where.pool_pattern)
    out += name_clauses(_TI.c.queue, where.queue_pattern)
    out += name_clauses(_OPERATOR_NAME, where.operator_pattern)
    out += name_clauses(_TI.c.rendered_map_index, where.rendered_map_index_pattern)
    return out


def _prefixed(values: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    picked = {k[len(prefix) :]: values.pop(k) for k in list(values) if k.startswith(prefix)}
    return None if picked.get("id") is None else picked


async def _to_ti_rows(tx: Transaction, rows: Sequence[Any]) -> list[TaskInstanceRow]:
    out = []
    for values in await with_dag_versions(tx, rows):
        values["id"] = str(values["id"])
        trigger_values = _prefixed(values, "trigger__")
        job_values = _prefixed(values, "job__")
        values["trigger"] = TriggerRow(**trigger_values) if trigger_values else None
        values["triggerer_job"] = JobRow(**job_values) if job_values else None
        out.append(TaskInstanceRow(**values))
    return out


async def list_task_instances(
    db: Database, where: TaskInstanceFilter, listing: Listing
) -> Page[TaskInstanceRow]:
    """Raises `UnknownOrderField` before touching the database."""
    query = (
        _ti_select()
        .where(*_ti_where(where))
        .order_by(*order_clauses(listing, _ORDER_COLUMNS, _TIEBREAK))
    )

    return await read_page(db, query, listing, _to_ti_rows)


async def task_instance_states(
    db: Database, dag_id: str, run_ids: Sequence[str]
) -> list[tuple[str, str, str | None]]:
    """(run_id, task_id, state) of the unmapped task instances of `run_ids` (the Grid's
    cells): three columns, not whole rows."""

    async def body(tx: Transaction) -> list[tuple[str, str, str | None]]:
        query = select(_TI.c.run_id, _TI.c.task_id, _TI.c.state).where(
            _TI.c.dag_id == dag_id, _TI.c.run_id.in_(run_ids), _TI.c.map_index == -1
        )
        return [(r.run_id, r.task_id, r.state) for r in await tx.execute(query)]

    return await db.run(body, write=False)


def _identity(
    table: Table, dag_id: str, run_id: str, task_id: str, map_index: int
) -> list[ColumnElement[bool]]:
    return [
        table.c.dag_id == dag_id,
        table.c.run_id == run_id,
        table.c.task_id == task_id,
        table.c.map_index == map_index,
    ]


async def get_task_instance(
    db: Database, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> TaskInstanceRow | None:
    async def body(tx: Transaction) -> TaskInstanceRow | None:
        query = _ti_select().where(*_identity(_TI, dag_id, run_id, task_id, map_index))
        row = (await tx.execute(query)).first()
        return None if row is None else (await _to_ti_rows(tx, [row]))[0]

    return await db.run(body, write=False)


async def task_instance_state(
    db: Database, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> tuple[str | None, int] | None:
    """(state, try_number) of a task instance, or None when it does not exist."""

    async def body(tx: Transaction) -> tuple[str | None, int] | None:
        row = (
            await tx.execute(
                select(_TI.c.state, _TI.c.try_number).where(
                    *_identity(_TI, dag_id, run_id, task_id, map_index)
                )
            )
        ).first()
        return None if row is None else (row.state, row.try_number)

    return await db.run(body, write=False)


def _tries_select(table: Table) -> Select[Any]:
    return select(*_try_columns(table)).select_from(
        table.join(
            dag_run, and_(dag_run.c.dag_id == table.c.dag_id, dag_run.c.run_id == table.c.run_id)
        ).outerjoin(dag, dag.c.dag_id == table.c.dag_id)
    )


async def list_task_instance_tries(
    db: Database, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> list[TaskInstanceTryRow]:
    """Every recorded try, oldest first, then the current one if it is not recorded yet.

    Empty when the task instance does not exist.
    """
    history = task_instance_history

    async def body(tx: Transaction) -> list[TaskInstanceTryRow]:
        past = (
            await tx.execute(
                _tries_select(history)
                .where(*_identity(history, dag_id, run_id, task_id, map_index))
                .order_by(history.c.try_number)
            )
        ).all()
        current = (
            await tx.execute(
                _tries_select(_TI).where(*_identity(_TI, dag_id, run_id, task_id, map_index))
            )
        ).all()
        recorded = {row.try_number for row in past}
        rows = past + [row for row in current if row.try_number not in recorded]
        return [TaskInstanceTryRow(**values) for values in await with_dag_versions(tx, rows)]

    return await db.run(body, write=False)
