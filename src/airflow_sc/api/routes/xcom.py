"""`.../taskInstances/{task_id}/xcomEntries`: read XCom entries (`~` for any DAG, run or task)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.parameters import effective_limit, order_fields
from airflow_sc.api.schemas.filters import UtcDatetime, datetime_range
from airflow_sc.api.schemas.xcom import (
    XComCollectionResponse,
    XComResponse,
    XComResponseNative,
    XComResponseString,
)
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_xcom as queries
from airflow_sc.db.queries.api_runs import NamePattern
from airflow_sc.db.queries.api_xcom import XCOM_ORDER_KEYS, XComFilter

__all__ = ["XComListQuery", "router"]

router = APIRouter(tags=["XCom"])

READ = [Depends(requires(Permission.DAG_READ))]
PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"


class XComListQuery(BaseModel):
    """Query parameters of `GET .../xcomEntries`."""

    xcom_key: str | None = None
    map_index: int | None = None
    limit: int = Field(default=50, ge=0)
    offset: int = Field(default=0, ge=0)
    xcom_key_pattern: str | None = None
    xcom_key_prefix_pattern: str | None = None
    dag_display_name_pattern: str | None = None
    dag_display_name_prefix_pattern: str | None = None
    run_id_pattern: str | None = None
    run_id_prefix_pattern: str | None = None
    task_id_pattern: str | None = None
    task_id_prefix_pattern: str | None = None
    map_index_filter: int | None = None
    logical_date_gte: UtcDatetime | None = None
    logical_date_gt: UtcDatetime | None = None
    logical_date_lte: UtcDatetime | None = None
    logical_date_lt: UtcDatetime | None = None
    run_after_gte: UtcDatetime | None = None
    run_after_gt: UtcDatetime | None = None
    run_after_lte: UtcDatetime | None = None
    run_after_lt: UtcDatetime | None = None
    order_by: list[str] = Field(
        default_factory=lambda: ["dag_id", "task_id", "run_id", "map_index", "key"],
        description="Attributes to order by, multi criteria sort is supported. Prefix with "
        "`-` for descending order. Supported attributes: `key, dag_id, run_id, task_id, "
        "map_index, timestamp, run_after`",
    )


def _any(value: str) -> str | None:
    return None if value == "~" else value


@router.get(
    PATH,
    dependencies=READ,
    responses=error_responses(400, 404),
    summary="Get Xcom Entries",
    operation_id="get_xcom_entries",
)
async def get_xcom_entries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    query: Annotated[XComListQuery, Query()],
    ctx: Ctx,
) -> XComCollectionResponse:
    """Entries without values; `~` in the path matches any DAG, run or task."""
    order_by = order_fields(query.order_by, XCOM_ORDER_KEYS, "key")
    where = XComFilter(
        dag_id=_any(dag_id),
        run_id=_any(dag_run_id),
        task_id=_any(task_id),
        key=query.xcom_key,
        map_index=query.map_index if query.map_index is not None else query.map_index_filter,
        key_pattern=NamePattern(query.xcom_key_pattern, query.xcom_key_prefix_pattern),
        dag_display_name_pattern=NamePattern(
            query.dag_display_name_pattern, query.dag_display_name_prefix_pattern
        ),
        run_id_pattern=NamePattern(query.run_id_pattern, query.run_id_prefix_pattern),
        task_id_pattern=NamePattern(query.task_id_pattern, query.task_id_prefix_pattern),
        logical_date=datetime_range(query, "logical_date"),
        run_after=datetime_range(query, "run_after"),
    )
    page = await queries.list_xcoms(
        ctx.db, where, order_by=order_by, limit=effective_limit(query.limit), offset=query.offset
    )
    return XComCollectionResponse(
        xcom_entries=[XComResponse.of(row) for row in page.items], total_entries=page.total
    )


@router.get(
    PATH + "/{xcom_key}",
    dependencies=READ,
    responses=error_responses(400, 404),
    summary="Get Xcom Entry",
    operation_id="get_xcom_entry",
)
async def get_xcom_entry(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str,
    ctx: Ctx,
    map_index: Annotated[int, Query(ge=-1)] = -1,
    deserialize: bool = False,
    stringify: bool = False,
) -> XComResponseNative | XComResponseString:
    """One entry with its value: JSON as stored, or its string form with `stringify=true`.

    XCom values are stored as JSON, so `deserialize` changes nothing.
    """
    row = await queries.get_xcom(ctx.db, dag_id, dag_run_id, task_id, xcom_key, map_index)
    if row is None:
        raise HTTPException(404, f"XCom entry with key: `{xcom_key}` not found")
    fields = XComResponse.fields_of(row)
    if stringify:
        return XComResponseString(**fields, value=None if row.value is None else str(row.value))
    return XComResponseNative(**fields, value=row.value)
