"""`/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances...`: list and read task
instances and their tries. `~` as dag_id or dag_run_id means every DAG or every run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from airflow_sc.actions import (
    DagNotFound,
    DagRunNotFound,
    MarkedTaskInstance,
    MarkState,
    clear_task_instances,
    set_task_instance_notes,
)
from airflow_sc.actions import mark_task_instances as mark_action
from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import (
    ListQuery,
    order_by_param,
    pattern_param,
    prefix_pattern_param,
)
from airflow_sc.api.lookups import require_dag, require_run, task_instance_rows, ti_not_found
from airflow_sc.api.schemas.filters import RunRangeFilters, UpdatedAtFilter, run_ranges
from airflow_sc.api.schemas.task_instances import (
    ClearTaskInstancesBody,
    PatchTaskInstanceBody,
    TaskInstanceCollectionResponse,
    TaskInstanceHistoryCollectionResponse,
    TaskInstanceHistoryResponse,
    TaskInstanceResponse,
    TaskInstancesBatchBody,
)
from airflow_sc.api.security import requires
from airflow_sc.api.update_mask import fields_to_update
from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_runs as run_queries
from airflow_sc.db.queries import api_task_instances as queries
from airflow_sc.db.queries.api_runs import DagRunFilter
from airflow_sc.db.queries.api_task_instances import (
    TASK_INSTANCE_ORDER_KEYS,
    TaskInstanceFilter,
    TaskInstanceRow,
)
from airflow_sc.domain.listing import Listing, Range
from airflow_sc.domain.states import TaskInstanceState

__all__ = ["TaskInstanceListQuery", "router", "ti_not_found"]

router = APIRouter(tags=["Task Instance"])

READ = [Depends(requires(Permission.DAG_READ))]
EDIT = [Depends(requires(Permission.DAG_EDIT))]

_TI_STATES: dict[TaskInstanceState, MarkState] = {
    TaskInstanceState.SUCCESS: "success",
    TaskInstanceState.FAILED: "failed",
    TaskInstanceState.SKIPPED: "skipped",
}


class TaskInstanceListQuery(ListQuery, RunRangeFilters, UpdatedAtFilter):
    """Query parameters of `GET .../taskInstances`."""

    task_id: str | None = None
    task_display_name_pattern: str | None = pattern_param("task_display_name")
    task_display_name_prefix_pattern: str | None = prefix_pattern_param("task_display_name")
    dag_id_pattern: str | None = pattern_param("dag_id")
    dag_id_prefix_pattern: str | None = prefix_pattern_param("dag_id")
    run_id_pattern: str | None = pattern_param("run_id")
    run_id_prefix_pattern: str | None = prefix_pattern_param("run_id")
    state: list[str] = Field(default_factory=list)
    pool: list[str] = Field(default_factory=list)
    pool_name_pattern: str | None = pattern_param("pool_name")
    pool_name_prefix_pattern: str | None = prefix_pattern_param("pool_name")
    queue: list[str] = Field(default_factory=list)
    queue_name_pattern: str | None = pattern_param("queue_name")
    queue_name_prefix_pattern: str | None = prefix_pattern_param("queue_name")
    executor: list[str] = Field(default_factory=list)
    try_number: list[int] = Field(default_factory=list)
    operator: list[str] = Field(default_factory=list)
    operator_name_pattern: str | None = pattern_param("operator_name")
    operator_name_prefix_pattern: str | None = prefix_pattern_param("operator_name")
    map_index: list[int] = Field(default_factory=list)
    rendered_map_index_pattern: str | None = pattern_param("rendered_map_index")
    rendered_map_index_prefix_pattern: str | None = prefix_pattern_param("rendered_map_index")
    order_by: list[str] = order_by_param(TASK_INSTANCE_ORDER_KEYS, ["map_index"])


def _collection(
    rows: list[TaskInstanceRow], total: int | None = None
) -> TaskInstanceCollectionResponse:
    return TaskInstanceCollectionResponse(
        task_instances=[TaskInstanceResponse.of(row) for row in rows],
        total_entries=len(rows) if total is None else total,
    )


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
    dependencies=READ,
    responses=error_responses(400, 404),
    summary="Get Task Instances",
    operation_id="get_task_instances",
)
async def get_task_instances(
    dag_id: str,
    dag_run_id: str,
    query: Annotated[TaskInstanceListQuery, Query()],
    ctx: Ctx,
) -> TaskInstanceCollectionResponse:
    listing = query.listing(TASK_INSTANCE_ORDER_KEYS)
    if dag_id != "~":
        await require_dag(ctx.db, dag_id)
        if dag_run_id != "~":
            await require_run(ctx.db, dag_id, dag_run_id)
    where = TaskInstanceFilter(
        dag_ids=None if dag_id == "~" else [dag_id],
        run_ids=None if dag_run_id == "~" else [dag_run_id],
        task_ids=None if query.task_id is None else [query.task_id],
        states=query.state or None,
        pools=query.pool or None,
        queues=query.queue or None,
        executors=query.executor or None,
        operators=query.operator or None,
        try_numbers=query.try_number or None,
        map_indexes=query.map_index or None,
        dag_id_pattern=query.name_pattern("dag_id"),
        run_id_pattern=query.name_pattern("run_id"),
        task_display_name_pattern=query.name_pattern("task_display_name"),
        pool_pattern=query.name_pattern("pool_name"),
        queue_pattern=query.name_pattern("queue_name"),
        operator_pattern=query.name_pattern("operator_name"),
        rendered_map_index_pattern=query.name_pattern("rendered_map_index"),
        **run_ranges(query),
    )
    page = await queries.list_task_instances(ctx.db, where, listing)
    return _collection(page.items, page.total)


@router.post(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/list",
    dependencies=READ,
    responses=error_responses(404),
    summary="Get Task Instances Batch",
    operation_id="get_task_instances_batch",
)
async def get_task_instances_batch(
    dag_id: Literal["~"], dag_run_id: Literal["~"], body: TaskInstancesBatchBody, ctx: Ctx
) -> TaskInstanceCollectionResponse:
    listing = body.listing(TASK_INSTANCE_ORDER_KEYS, "map_index")
    where = TaskInstanceFilter(
        dag_ids=body.dag_ids,
        run_ids=body.dag_run_ids,
        task_ids=body.task_ids,
        # An empty list filters nothing (as Airflow), like an absent one.
        states=[s and str(s) for s in body.state] if body.state else None,
        pools=body.pool,
        queues=body.queue,
        executors=body.executor,
        **run_ranges(body),
    )
    page = await queries.list_task_instances(ctx.db, where, listing)
    return _collection(page.items, page.total)


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
    dependencies=READ,
    responses=error_responses(404),
    summary="Get Task Instance",
    operation_id="get_task_instance",
)
async def get_task_instance(
    dag_id: str, dag_run_id: str, task_id: str, ctx: Ctx
) -> TaskInstanceResponse:
    row = await queries.get_task_instance(ctx.db, dag_id, dag_run_id, task_id)
    if row is None:
        raise ti_not_found(dag_id, dag_run_id, task_id, -1)
    return TaskInstanceResponse.of(row)


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
    dependencies=READ,
    responses=error_responses(404),
    summary="Get Task Instance Tries",
    operation_id="get_task_instance_tries",
)
async def get_task_instance_tries(
    dag_id: str, dag_run_id: str, task_id: str, ctx: Ctx, map_index: int = -1
) -> TaskInstanceHistoryCollectionResponse:
    """Every try of a task instance, oldest first (finished tries, then the current one)."""
    tries = await queries.list_task_instance_tries(ctx.db, dag_id, dag_run_id, task_id, map_index)
    if not tries:
        raise ti_not_found(dag_id, dag_run_id, task_id, map_index)
    return TaskInstanceHistoryCollectionResponse(
        task_instances=[TaskInstanceHistoryResponse.of(row) for row in tries],
        total_entries=len(tries),
    )


# -- writes ------------------------------------------------------------------------------

#: Runs considered by one clear request; far above what a person clears at once.
MAX_CLEARED_RUNS = 10_000


async def _target_tis(
    ctx: ApiContext, dag_id: str, run_id: str, task_id: str, map_index: int | None
) -> list[TaskInstanceRow]:
    where = TaskInstanceFilter(
        dag_ids=[dag_id],
        run_ids=[run_id],
        task_ids=[task_id],
        map_indexes=None if map_index is None else [map_index],
    )
    page = await queries.list_task_instances(ctx.db, where, Listing(limit=MAX_CLEARED_RUNS))
    if not page.items:
        raise ti_not_found(dag_id, run_id, task_id, map_index)
    return page.items


def _patch_fields(body: PatchTaskInstanceBody, update_mask: list[str] | None) -> set[str]:
    fields = fields_to_update(
        body.model_fields_set, update_mask, PatchTaskInstanceBody.model_fields
    )
    if body.include_future or body.include_past:
        raise HTTPException(
            400, "include_future and include_past are not supported by airflow-sc yet"
        )
    return fields


async def _mark(
    ctx: ApiContext,
    dag_id: str,
    run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    map_index: int | None,
    *,
    dry_run: bool,
) -> list[MarkedTaskInstance]:
    """Mark `body.new_state` through the action (404 for an unknown run)."""
    assert body.new_state is not None
    try:
        return await mark_action(
            ctx.db,
            dag_id,
            run_id,
            [task_id],
            _TI_STATES[body.new_state],
            now=ctx.clock(),
            map_indexes=None if map_index is None else [map_index],
            include_downstream=body.include_downstream,
            include_upstream=body.include_upstream,
            dry_run=dry_run,
            wake=ctx.wake,
        )
    except DagRunNotFound:
        raise ti_not_found(dag_id, run_id, task_id, map_index) from None


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/dry_run",
    dependencies=EDIT,
    responses=error_responses(400, 404),
    summary="Patch Task Instance Dry Run",
    operation_id="patch_task_instance_dry_run",
)
async def patch_task_instance_dry_run(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    ctx: Ctx,
    map_index: int | None = None,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """The task instances a PATCH with this body would change; nothing is written."""
    fields = _patch_fields(body, update_mask)
    targets = await _target_tis(ctx, dag_id, dag_run_id, task_id, map_index)
    if "new_state" not in fields or body.new_state is None:
        return _collection(targets)
    marked = await _mark(ctx, dag_id, dag_run_id, task_id, body, map_index, dry_run=True)
    keys = [(dag_run_id, m.task_id, m.map_index) for m in marked]
    return _collection(await task_instance_rows(ctx.db, dag_id, keys))


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
    dependencies=EDIT,
    responses=error_responses(400, 404, 409),
    summary="Patch Task Instance",
    operation_id="patch_task_instance",
)
async def patch_task_instance(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    ctx: Ctx,
    map_index: int | None = None,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """Mark a task instance success, failed or skipped (with its up/downstream tasks if
    asked) and/or set its note; without `map_index`, every map index of the task.

    409 when the task instance already has that state (the note is then left alone).
    """
    fields = _patch_fields(body, update_mask)
    await _target_tis(ctx, dag_id, dag_run_id, task_id, map_index)
    marks = "new_state" in fields and body.new_state is not None
    if marks and not await _mark(ctx, dag_id, dag_run_id, task_id, body, map_index, dry_run=False):
        raise HTTPException(409, f"Task id {task_id} is already in {body.new_state} state")
    # As Airflow: a null note without update_mask leaves the note as it is.
    if "note" in fields and (update_mask or body.note is not None):
        await set_task_instance_notes(
            ctx.db,
            dag_id,
            dag_run_id,
            task_id,
            body.note,
            map_indexes=None if map_index is None else [map_index],
        )
    return _collection(await _target_tis(ctx, dag_id, dag_run_id, task_id, map_index))


def _clear_task_ids(body: ClearTaskInstancesBody) -> list[str] | None:
    if body.task_ids is None:
        return None
    names: list[str] = []
    for entry in body.task_ids:
        if isinstance(entry, str):
            names.append(entry)
        elif entry[1] == -1:
            names.append(entry[0])
        else:
            raise HTTPException(
                400, "Clearing single map indexes is not supported by airflow-sc yet"
            )
    return names


async def _clear_run_ids(
    ctx: ApiContext, dag_id: str, body: ClearTaskInstancesBody
) -> list[str] | None:
    """The runs a clear request covers (None: every run of the DAG)."""
    window: Range[datetime]
    if body.dag_run_id is not None:
        run = await run_queries.get_dag_run(ctx.db, dag_id, body.dag_run_id)
        if run is None:
            raise HTTPException(404, f"Dag Run id {body.dag_run_id} not found in dag {dag_id}")
        if not (body.include_past or body.include_future) or run.logical_date is None:
            return [body.dag_run_id]
        window = Range(
            gte=None if body.include_past else run.logical_date,
            lte=None if body.include_future else run.logical_date,
        )
    elif body.start_date is not None or body.end_date is not None:
        window = Range(gte=body.start_date, lte=body.end_date)
    else:
        return None
    page = await run_queries.list_dag_runs(
        ctx.db,
        DagRunFilter(dag_ids=[dag_id], logical_date=window),
        Listing(limit=MAX_CLEARED_RUNS),
    )
    return [row.run_id for row in page.items]


@router.post(
    "/dags/{dag_id}/clearTaskInstances",
    dependencies=EDIT,
    responses=error_responses(400, 404, 409),
    summary="Post Clear Task Instances",
    operation_id="post_clear_task_instances",
)
async def post_clear_task_instances(
    dag_id: str, body: ClearTaskInstancesBody, ctx: Ctx
) -> TaskInstanceCollectionResponse:
    """Clear task instances so they run again; `dry_run` (the default) only lists them.

    By default only failed ones are cleared (`only_failed` is true, as in Airflow).
    """
    if body.only_running:
        raise HTTPException(400, "only_running is not supported by airflow-sc yet")
    if not body.reset_dag_runs and not body.dry_run:
        raise HTTPException(400, "reset_dag_runs=false is not supported by airflow-sc yet")
    if not await run_queries.dag_exists(ctx.db, dag_id):
        raise HTTPException(404, f"Dag with id {dag_id} was not found")
    task_ids = _clear_task_ids(body)
    run_ids = await _clear_run_ids(ctx, dag_id, body)

    async def clear(dry_run: bool) -> list[tuple[str, str, int]]:
        cleared = await clear_task_instances(
            ctx.db,
            dag_id,
            now=ctx.clock(),
            run_ids=run_ids,
            task_ids=task_ids,
            include_downstream=body.include_downstream,
            include_upstream=body.include_upstream,
            only_failed=body.only_failed,
            dry_run=dry_run,
            wake=ctx.wake,
        )
        if dry_run and body.prevent_running_task:
            running = sorted(c.task_id for c in cleared if c.state == "running")
            if running:
                raise HTTPException(400, f"Task instances of tasks {running} are currently running")
        return [(c.run_id, c.task_id, c.map_index) for c in cleared]

    try:
        # With prevent_running_task, look first: a running task instance refuses the clear.
        keys = await clear(dry_run=body.dry_run or body.prevent_running_task)
        if not body.dry_run and body.prevent_running_task:
            keys = await clear(dry_run=False)
    except DagNotFound:
        raise HTTPException(404, f"Dag with id {dag_id} was not found") from None
    return _collection(await task_instance_rows(ctx.db, dag_id, keys))


# Airflow also names one map index in the path. These come after the `/dry_run` routes
# above: `.../{task_id}/dry_run` must not be taken for a map index.


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/dry_run",
    dependencies=EDIT,
    responses=error_responses(400, 404),
    summary="Patch Task Instance Dry Run",
    operation_id="patch_task_instance_dry_run_by_map_index",
)
async def patch_task_instance_dry_run_by_map_index(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    body: PatchTaskInstanceBody,
    ctx: Ctx,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """The dry run of a PATCH of one map index of a task instance."""
    return await patch_task_instance_dry_run(
        dag_id, dag_run_id, task_id, body, ctx, map_index=map_index, update_mask=update_mask
    )


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}",
    dependencies=EDIT,
    responses=error_responses(400, 404, 409),
    summary="Patch Task Instance",
    operation_id="patch_task_instance_by_map_index",
)
async def patch_task_instance_by_map_index(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    body: PatchTaskInstanceBody,
    ctx: Ctx,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """Mark one map index of a task instance and/or set its note."""
    return await patch_task_instance(
        dag_id, dag_run_id, task_id, body, ctx, map_index=map_index, update_mask=update_mask
    )
