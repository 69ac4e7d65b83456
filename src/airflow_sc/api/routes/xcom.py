"""`.../taskInstances/{task_id}/xcomEntries`: read XCom entries (`~` for any DAG, run or task)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import (
    ListQuery,
    order_by_param,
    pattern_param,
    prefix_pattern_param,
)
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
from airflow_sc.db.queries.api_xcom import XCOM_ORDER_KEYS, XComFilter

__all__ = ["XComListQuery", "router"]

router = APIRouter(tags=["XCom"])

READ = [Depends(requires(Permission.DAG_READ))]
PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"


class XComListQuery(ListQuery):
    """Query parameters of `GET .../xcomEntries`."""

    xcom_key: str | None = None
    map_index: int | None = Field(default=None, ge=-1)
    xcom_key_pattern: str | None = pattern_param("xcom_key")
    xcom_key_prefix_pattern: str | None = prefix_pattern_param("xcom_key")
    dag_display_name_pattern: str | None = pattern_param("dag_display_name")
    dag_display_name_prefix_pattern: str | None = prefix_pattern_param("dag_display_name")
    run_id_pattern: str | None = pattern_param("run_id")
    run_id_prefix_pattern: str | None = prefix_pattern_param("run_id")
    task_id_pattern: str | None = pattern_param("task_id")
    task_id_prefix_pattern: str | None = prefix_pattern_param("task_id")
    map_index_filter: int | None = None
    logical_date_gte: UtcDatetime | None = None
    logical_date_gt: UtcDatetime | None = None
    logical_date_lte: UtcDatetime | None = None
    logical_date_lt: UtcDatetime | None = None
    run_after_gte: UtcDatetime | None = None
    run_after_gt: UtcDatetime | None = None
    run_after_lte: UtcDatetime | None = None
    run_after_lt: UtcDatetime | None = None
    order_by: list[str] = order_by_param(
        XCOM_ORDER_KEYS, ["dag_id", "task_id", "run_id", "map_index", "key"]
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
    listing = query.listing(XCOM_ORDER_KEYS)
    where = XComFilter(
        dag_id=_any(dag_id),
        run_id=_any(dag_run_id),
        task_id=_any(task_id),
        key=query.xcom_key,
        map_index=query.map_index if query.map_index is not None else query.map_index_filter,
        key_pattern=query.name_pattern("xcom_key"),
        dag_display_name_pattern=query.name_pattern("dag_display_name"),
        run_id_pattern=query.name_pattern("run_id"),
        task_id_pattern=query.name_pattern("task_id"),
        logical_date=datetime_range(query, "logical_date"),
        run_after=datetime_range(query, "run_after"),
    )
    page = await queries.list_xcoms(ctx.db, where, listing)
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
