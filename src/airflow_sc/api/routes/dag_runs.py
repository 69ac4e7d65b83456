"""`/api/v2/dags/{dag_id}/dagRuns...`: list, read, trigger, patch, clear and delete DAG runs.

Reads query the database directly; writes go through `airflow_sc.actions`, the same
operator actions the CLI uses, so they take the same locks and wake the scheduler.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from airflow_sc.actions import (
    DagNotFound,
    DagRunExists,
    DagRunNotFound,
    Wake,
    clear_task_instances,
    mark_dag_run,
    trigger_dag_run,
)
from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.parameters import effective_limit, parse_order_by
from airflow_sc.api.schemas.dag_runs import (
    DAGRunClearBody,
    DAGRunCollectionResponse,
    DagRunListQuery,
    DagRunMutableStates,
    DAGRunPatchBody,
    DAGRunResponse,
    DAGRunsBatchBody,
    TriggerDAGRunPostBody,
    datetime_range,
    number_range,
)
from airflow_sc.api.schemas.task_instances import (
    ClearTaskInstanceCollectionResponse,
    TaskInstanceResponse,
)
from airflow_sc.api.security import requires
from airflow_sc.auth import AccessToken, Permission
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import api_runs as queries
from airflow_sc.db.queries import api_task_instances as ti_queries
from airflow_sc.db.queries import operator_actions
from airflow_sc.db.queries.api_runs import (
    DAG_RUN_ORDER_KEYS,
    DagRunFilter,
    DagRunRow,
    NamePattern,
    OrderField,
)
from airflow_sc.db.queries.api_task_instances import TaskInstanceFilter, TaskInstanceRow
from airflow_sc.domain.states import DagRunState
from airflow_sc.sdk.params import ParamValidationError

__all__ = ["cleared_rows", "invalid_update_mask", "router"]

router = APIRouter(tags=["DagRun"])

READ = [Depends(requires(Permission.DAG_READ))]
EDIT = [Depends(requires(Permission.DAG_EDIT))]
DELETE = [Depends(requires(Permission.DAG_DELETE))]

#: A running run has task instances in flight: it is marked, not deleted.
UNDELETABLE_STATES = frozenset({DagRunState.RUNNING})


def order_fields(raw: list[str], allowed: frozenset[str], tiebreak: str) -> list[OrderField]:
    """`order_by` terms -> query ordering; 400 (Airflow's message) for an unknown one."""
    parsed = parse_order_by(raw, {name: name for name in allowed}, tiebreak=tiebreak)
    return [OrderField(f.key, f.descending) for f in parsed]


def run_not_found(dag_id: str, run_id: str) -> HTTPException:
    return HTTPException(
        404, f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"
    )


async def require_dag(db: Database, dag_id: str) -> None:
    if not await queries.dag_exists(db, dag_id):
        raise HTTPException(404, f"The Dag with ID: `{dag_id}` was not found")


async def require_run(db: Database, dag_id: str, run_id: str) -> DagRunRow:
    row = await queries.get_dag_run(db, dag_id, run_id)
    if row is None:
        raise run_not_found(dag_id, run_id)
    return row


@router.get(
    "/dags/{dag_id}/dagRuns",
    dependencies=READ,
    responses=error_responses(400, 404),
    summary="Get Dag Runs",
    operation_id="get_dag_runs",
)
async def get_dag_runs(
    dag_id: str, query: Annotated[DagRunListQuery, Query()], ctx: Ctx
) -> DAGRunCollectionResponse:
    """Runs of one DAG, or of every DAG with `~` as the dag_id."""
    order_by = order_fields(query.order_by, DAG_RUN_ORDER_KEYS, "id")
    if dag_id != "~":
        await require_dag(ctx.db, dag_id)
    where = DagRunFilter(
        dag_ids=None if dag_id == "~" else [dag_id],
        states=[str(s) for s in query.state] or None,
        run_types=[str(t) for t in query.run_type] or None,
        run_after=datetime_range(query, "run_after"),
        logical_date=datetime_range(query, "logical_date"),
        start_date=datetime_range(query, "start_date"),
        end_date=datetime_range(query, "end_date"),
        updated_at=datetime_range(query, "updated_at"),
        duration=number_range(query, "duration"),
        conf_contains=query.conf_contains,
        dag_id_pattern=NamePattern(query.dag_id_pattern, query.dag_id_prefix_pattern),
        run_id_pattern=NamePattern(query.run_id_pattern, query.run_id_prefix_pattern),
        triggering_user_name_pattern=NamePattern(
            query.triggering_user_name_pattern, query.triggering_user_name_prefix_pattern
        ),
        bundle_version=query.bundle_version,
    )
    page = await queries.list_dag_runs(
        ctx.db, where, order_by=order_by, limit=effective_limit(query.limit), offset=query.offset
    )
    return DAGRunCollectionResponse(
        dag_runs=[DAGRunResponse.of(row) for row in page.items], total_entries=page.total
    )


@router.post(
    "/dags/{dag_id}/dagRuns/list",
    dependencies=READ,
    responses=error_responses(404),
    summary="Get List Dag Runs Batch",
    operation_id="get_list_dag_runs_batch",
)
async def get_list_dag_runs_batch(
    dag_id: Literal["~"], body: DAGRunsBatchBody, ctx: Ctx
) -> DAGRunCollectionResponse:
    """Runs across DAGs, filtered by a JSON body (for filters too long for a URL)."""
    order_by = order_fields([body.order_by] if body.order_by else ["id"], DAG_RUN_ORDER_KEYS, "id")
    states = [str(s) for s in body.states if s is not None] if body.states else None
    where = DagRunFilter(
        dag_ids=body.dag_ids,
        states=states,
        run_after=datetime_range(body, "run_after"),
        logical_date=datetime_range(body, "logical_date"),
        start_date=datetime_range(body, "start_date"),
        end_date=datetime_range(body, "end_date"),
        duration=number_range(body, "duration"),
        conf_contains=body.conf_contains,
    )
    page = await queries.list_dag_runs(
        ctx.db,
        where,
        order_by=order_by,
        limit=effective_limit(body.page_limit),
        offset=body.page_offset,
    )
    return DAGRunCollectionResponse(
        dag_runs=[DAGRunResponse.of(row) for row in page.items], total_entries=page.total
    )


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}",
    dependencies=READ,
    responses=error_responses(404),
    summary="Get Dag Run",
    operation_id="get_dag_run",
)
async def get_dag_run(dag_id: str, dag_run_id: str, ctx: Ctx) -> DAGRunResponse:
    return DAGRunResponse.of(await require_run(ctx.db, dag_id, dag_run_id))


@router.delete(
    "/dags/{dag_id}/dagRuns/{dag_run_id}",
    dependencies=DELETE,
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 404, 409),
    summary="Delete Dag Run",
    operation_id="delete_dag_run",
)
async def delete_dag_run(dag_id: str, dag_run_id: str, ctx: Ctx) -> Response:
    """Delete a run with its task instances and XComs (not while it is running)."""
    outcome = await queries.delete_dag_run(
        ctx.db, dag_id, dag_run_id, refuse_states=UNDELETABLE_STATES
    )
    if outcome == "missing":
        raise run_not_found(dag_id, dag_run_id)
    if outcome == "refused":
        raise HTTPException(
            409,
            f"The DagRun with dag_id: `{dag_id}` and run_id: `{dag_run_id}` is running; "
            "mark it success or failed before deleting it",
        )
    return Response(status_code=204)


# -- writes ------------------------------------------------------------------------------


def invalid_update_mask(mask: list[str] | None, allowed: Collection[str]) -> HTTPException | None:
    """400 for `update_mask` names the body does not have (None when the mask is fine)."""
    unknown = sorted(set(mask or ()) - set(allowed))
    if not unknown:
        return None
    return HTTPException(400, f"Invalid fields in update_mask: {unknown}")


def fields_to_update(
    body_fields: Collection[str], mask: list[str] | None, allowed: Collection[str]
) -> set[str]:
    """The body fields a PATCH applies: those sent, narrowed by `update_mask` if given."""
    if (error := invalid_update_mask(mask, allowed)) is not None:
        raise error
    return set(body_fields) & set(mask) if mask else set(body_fields)


async def cleared_rows(
    db: Database, dag_id: str, keys: Collection[tuple[str, str, int]]
) -> list[TaskInstanceRow]:
    """The task instances named by (run_id, task_id, map_index), in their current state."""
    if not keys:
        return []
    where = TaskInstanceFilter(
        dag_ids=[dag_id],
        run_ids=sorted({k[0] for k in keys}),
        task_ids=sorted({k[1] for k in keys}),
    )
    page = await ti_queries.list_task_instances(db, where, limit=len(keys) * 4 + 100)
    wanted = set(keys)
    return [r for r in page.items if (r.run_id, r.task_id, r.map_index) in wanted]


@router.post(
    "/dags/{dag_id}/dagRuns",
    responses=error_responses(400, 404, 409),
    summary="Trigger Dag Run",
    operation_id="trigger_dag_run",
)
async def post_dag_run(
    dag_id: str,
    body: TriggerDAGRunPostBody,
    ctx: Ctx,
    caller: Annotated[AccessToken, Depends(requires(Permission.DAG_EDIT))],
) -> DAGRunResponse:
    """Trigger a manual run; `conf` must satisfy the DAG's params (400 with the reason)."""
    # run_after, data_interval_*, note and partition_key are accepted but not stored yet:
    # the trigger action derives run_after and the data interval from the logical date.
    try:
        triggered = await trigger_dag_run(
            ctx.db,
            dag_id,
            now=ctx.clock(),
            conf=body.conf or {},
            logical_date=body.logical_date,
            run_id=body.dag_run_id,
            triggered_by="rest_api",
            triggering_user_name=caller.username,
            wake=ctx.wake,
        )
    except DagNotFound:
        raise HTTPException(404, f"Dag with dag_id: '{dag_id}' not found") from None
    except ParamValidationError as exc:
        raise HTTPException(400, str(exc)) from None
    except DagRunExists as exc:
        raise HTTPException(
            409,
            f"A Dag Run with dag_id: `{dag_id}` and run_id: `{exc.run_id}` or the same "
            "logical date already exists",
        ) from None
    return DAGRunResponse.of(await require_run(ctx.db, dag_id, triggered.run_id))


async def queue_dag_run(
    db: Database, dag_id: str, run_id: str, *, now: datetime, wake: Wake
) -> None:
    """Put a run back to QUEUED (Airflow's "set state to queued"): the scheduler starts it
    again; its task instances keep their states."""

    async def body(tx: Transaction) -> int:
        runs = await operator_actions.lock_runs(tx, dag_id, [run_id])
        if not runs:
            raise DagRunNotFound(dag_id, run_id)
        await operator_actions.update_run(
            tx,
            runs[0].id,
            {
                "state": "queued",
                "queued_at": now,
                "start_date": None,
                "end_date": None,
                "updated_at": now,
            },
        )
        return runs[0].id

    wake([await db.run(body)])


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}",
    dependencies=EDIT,
    responses=error_responses(400, 404),
    summary="Patch Dag Run",
    operation_id="patch_dag_run",
)
async def patch_dag_run(
    dag_id: str,
    dag_run_id: str,
    body: DAGRunPatchBody,
    ctx: Ctx,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> DAGRunResponse:
    """Set a run's state (success, failed or queued). Notes are not stored yet."""
    fields = fields_to_update(body.model_fields_set, update_mask, DAGRunPatchBody.model_fields)
    await require_run(ctx.db, dag_id, dag_run_id)
    if "state" in fields and body.state is not None:
        try:
            if body.state is DagRunMutableStates.QUEUED:
                await queue_dag_run(ctx.db, dag_id, dag_run_id, now=ctx.clock(), wake=ctx.wake)
            else:
                await mark_dag_run(
                    ctx.db,
                    dag_id,
                    dag_run_id,
                    "success" if body.state is DagRunMutableStates.SUCCESS else "failed",
                    now=ctx.clock(),
                    wake=ctx.wake,
                )
        except DagRunNotFound:
            raise run_not_found(dag_id, dag_run_id) from None
    return DAGRunResponse.of(await require_run(ctx.db, dag_id, dag_run_id))


@router.post(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/clear",
    dependencies=EDIT,
    responses=error_responses(400, 404),
    summary="Clear Dag Run",
    operation_id="clear_dag_run",
)
async def clear_dag_run(
    dag_id: str, dag_run_id: str, body: DAGRunClearBody, ctx: Ctx
) -> ClearTaskInstanceCollectionResponse | DAGRunResponse:
    """Clear a run's task instances; with `dry_run` (the default) list what would be cleared."""
    if body.only_new:
        raise HTTPException(400, "only_new is not supported by airflow-sc yet")
    await require_run(ctx.db, dag_id, dag_run_id)
    try:
        cleared = await clear_task_instances(
            ctx.db,
            dag_id,
            now=ctx.clock(),
            run_ids=[dag_run_id],
            only_failed=body.only_failed,
            dry_run=body.dry_run,
            wake=ctx.wake,
        )
    except DagNotFound:
        raise HTTPException(404, f"Dag with id {dag_id} was not found") from None
    if body.dry_run:
        rows = await cleared_rows(
            ctx.db, dag_id, [(c.run_id, c.task_id, c.map_index) for c in cleared]
        )
        return ClearTaskInstanceCollectionResponse(
            task_instances=[TaskInstanceResponse.of(row) for row in rows],
            total_entries=len(rows),
        )
    return DAGRunResponse.of(await require_run(ctx.db, dag_id, dag_run_id))
