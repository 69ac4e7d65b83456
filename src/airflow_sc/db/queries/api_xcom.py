"""Read-side queries for the REST API's XCom routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.sql import Select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import (
    OrderColumns,
    each_row,
    name_clauses,
    order_clauses,
    range_clauses,
    read_page,
)
from airflow_sc.db.models import dag, dag_run, task_instance, xcom
from airflow_sc.domain.listing import Listing, NamePattern, Page, Range

__all__ = ["XCOM_ORDER_KEYS", "XComFilter", "XComRow", "get_xcom", "list_xcoms"]


@dataclass(frozen=True, slots=True)
class XComRow:
    key: str
    timestamp: datetime
    logical_date: datetime | None
    run_after: datetime
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    value: Any


@dataclass(frozen=True, slots=True)
class XComFilter:
    """Which XCom entries a listing returns; `None` does not constrain (`~` in a path)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    key: str | None = None
    map_index: int | None = None
    key_pattern: NamePattern = field(default_factory=NamePattern)
    dag_display_name_pattern: NamePattern = field(default_factory=NamePattern)
    run_id_pattern: NamePattern = field(default_factory=NamePattern)
    task_id_pattern: NamePattern = field(default_factory=NamePattern)
    logical_date: Range[datetime] = field(default_factory=Range)
    run_after: Range[datetime] = field(default_factory=Range)


_DAG_DISPLAY_NAME = func.coalesce(dag.c.dag_display_name, xcom.c.dag_id)


def _select(*, with_value: bool) -> Select[Any]:
    columns: list[ColumnElement[Any]] = [
        xcom.c.key,
        xcom.c.timestamp,
        dag_run.c.logical_date,
        dag_run.c.run_after,
        xcom.c.map_index,
        xcom.c.task_id,
        xcom.c.dag_id,
        xcom.c.run_id,
        _DAG_DISPLAY_NAME.label("dag_display_name"),
        func.coalesce(task_instance.c.task_display_name, xcom.c.task_id).label("task_display_name"),
    ]
    if with_value:
        columns.append(xcom.c.value)
    return select(*columns).select_from(
        xcom.join(dag_run, dag_run.c.id == xcom.c.dag_run_id)
        .outerjoin(dag, dag.c.dag_id == xcom.c.dag_id)
        .outerjoin(
            task_instance,
            and_(
                task_instance.c.dag_id == xcom.c.dag_id,
                task_instance.c.run_id == xcom.c.run_id,
                task_instance.c.task_id == xcom.c.task_id,
                task_instance.c.map_index == xcom.c.map_index,
            ),
        )
    )


_ORDER_COLUMNS: OrderColumns = {
    "key": xcom.c.key,
    "dag_id": xcom.c.dag_id,
    "run_id": xcom.c.run_id,
    "task_id": xcom.c.task_id,
    "map_index": xcom.c.map_index,
    "timestamp": xcom.c.timestamp,
    "run_after": dag_run.c.run_after,
}
#: Attributes a listing sorts by (Airflow's names, in its order).
XCOM_ORDER_KEYS = tuple(_ORDER_COLUMNS)
_TIEBREAK = [xcom.c.dag_id, xcom.c.run_id, xcom.c.task_id, xcom.c.map_index, xcom.c.key]


def _where(where: XComFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for column, value in (
        (xcom.c.dag_id, where.dag_id),
        (xcom.c.run_id, where.run_id),
        (xcom.c.task_id, where.task_id),
        (xcom.c.key, where.key),
        (xcom.c.map_index, where.map_index),
    ):
        if value is not None:
            out.append(column == value)
    out += name_clauses(xcom.c.key, where.key_pattern)
    out += name_clauses(_DAG_DISPLAY_NAME, where.dag_display_name_pattern)
    out += name_clauses(xcom.c.run_id, where.run_id_pattern)
    out += name_clauses(xcom.c.task_id, where.task_id_pattern)
    out += range_clauses(dag_run.c.logical_date, where.logical_date)
    out += range_clauses(dag_run.c.run_after, where.run_after)
    return out


async def list_xcoms(db: Database, where: XComFilter, listing: Listing) -> Page[XComRow]:
    """Entries without their values (Airflow's listing leaves them out too).

    Raises `UnknownOrderField` before touching the database.
    """
    query = (
        _select(with_value=False)
        .where(*_where(where))
        .order_by(*order_clauses(listing, _ORDER_COLUMNS, _TIEBREAK))
    )

    return await read_page(
        db, query, listing, each_row(lambda row: XComRow(**row._mapping, value=None))
    )


async def get_xcom(
    db: Database, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1
) -> XComRow | None:
    query = _select(with_value=True).where(
        xcom.c.dag_id == dag_id,
        xcom.c.run_id == run_id,
        xcom.c.task_id == task_id,
        xcom.c.key == key,
        xcom.c.map_index == map_index,
    )

    async def body(tx: Transaction) -> XComRow | None:
        row = (await tx.execute(query)).first()
        return None if row is None else XComRow(**row._mapping)

    return await db.run(body, write=False)
