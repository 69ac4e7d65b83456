"""`/api/v2/dags/{dag_id}/dagRuns...`: list, read, trigger, patch, clear and delete DAG runs.

Reads query the database directly; writes go through `airflow_sc.actions`, the same
operator actions the CLI uses, so they take the same locks and wake the scheduler.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from airflow_sc.actions import (
    DagNotFound,
    DagRunExists,
    DagRunNotFound,
    InvalidConf,
    InvalidRunId,
    MarkRunState,
    clear_task_instances,
    mark_dag_run,
    set_dag_run_note,
    trigger_dag_run,
)
from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.lookups import require_dag, require_run, run_not_found, task_instance_rows
from airflow_sc.api.schemas.dag_runs import (
    DAGRunClearBody,
    DAGRunCollectionResponse,
    DagRunListQuery,
    DagRunMutableStates,
    DAGRunPatchBody,
    DAGRunResponse,
    DAGRunsBatchBody,
    TriggerDAGRunPostBody,
)
from airflow_sc.api.schemas.filters import run_ranges
from airflow_sc.api.schemas.task_instances import (
    ClearTaskInstanceCollectionResponse,
    TaskInstanceResponse,
)
from airflow_sc.api.security import requires
from airflow_sc.api.update_mask import fields_to_update
from airflow_sc.auth import AccessToken, Permission
from airflow_sc.db.queries import api_runs as queries
from airflow_sc.db.queries.api_runs import DAG_RUN_ORDER_KEYS, DagRunFilter, DagRunRow
from airflow_sc.domain.listing import Page
from airflow_sc.domain.states import DagRunState
from airflow_sc.sdk.params import ParamValidationError

__all__ = ["router"]

router = APIRouter(tags=["DagRun"])

READ = [Depends(requires(Permission.DAG_READ))]
EDIT = [Depends(requires(Permission.DAG_EDIT))]
DELETE = [Depends(requires(Permission.DAG_DELETE))]

_RUN_STATES: dict[DagRunMutableStates, MarkRunState] = {
    DagRunMutableStates.QUEUED: "queued",
    DagRunMutableStates.SUCCESS: "success",
    DagRunMutableStates.FAILED: "failed",
}

#: A running run has task instances in flight: it is marked, not deleted.
UNDELETABLE_STATES = frozenset({DagRunState.RUNNING})


def _runs_response(page: Page[DagRunRow]) -> DAGRunCollectionResponse:
    return DAGRunCollectionResponse(
        dag_runs=[DAGRunResponse.of(row) for row in page.items], total_entries=page.total
    )


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
    listing = query.listing(DAG_RUN_ORDER_KEYS)
    if dag_id != "~":
        await require_dag(ctx.db, dag_id)
    where = DagRunFilter(
        dag_ids=None if dag_id == "~" else [dag_id],
        states=[str(s) for s in query.state] or None,
        run_types=[str(t) for t in query.run_type] or None,
        conf_contains=query.conf_contains,
        dag_id_pattern=query.name_pattern("dag_id"),
        run_id_pattern=query.name_pattern("run_id"),
        triggering_user_name_pattern=query.name_pattern("triggering_user_name"),
        bundle_version=query.bundle_version,
        **run_ranges(query),
    )
    page = await queries.list_dag_runs(ctx.db, where, listing)
    return _runs_response(page)


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
    listing = body.listing(DAG_RUN_ORDER_KEYS, "id")
    where = DagRunFilter(
        dag_ids=body.dag_ids,
        states=[str(s) for s in body.states if s is not None] if body.states else None,
        conf_contains=body.conf_contains,
        **run_ranges(body),
    )
    page = await queries.list_dag_runs(ctx.db, where, listing)
    return _runs_response(page)


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
    """Trigger a manual run; `conf` must satisfy the DAG's params (400 with the reason).

    As Airflow 3.3: `run_after` defaults to now; a run with a logical date covers the
    given data interval or the one its timetable infers; `note` is stored on the run.
    """
    interval = None
    if body.data_interval_start is not None and body.data_interval_end is not None:
        interval = (body.data_interval_start, body.data_interval_end)
    try:
        triggered = await trigger_dag_run(
            ctx.db,
            dag_id,
            now=ctx.clock(),
            conf=body.conf or {},
            logical_date=body.logical_date,
            run_after=body.run_after,
            data_interval=interval,
            run_id=body.dag_run_id,
            note=body.note,
            triggered_by="rest_api",
            triggering_user_name=caller.username,
            allowed_run_id_pattern=ctx.settings.scheduler.allowed_run_id_pattern,
            wake=ctx.wake,
        )
    except (InvalidRunId, InvalidConf) as exc:
        raise HTTPException(400, str(exc)) from None
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
    """Set a run's state (success, failed or queued) and/or its note (null removes it)."""
    fields = fields_to_update(body.model_fields_set, update_mask, DAGRunPatchBody.model_fields)
    await require_run(ctx.db, dag_id, dag_run_id)
    try:
        if "state" in fields and body.state is not None:
            await mark_dag_run(
                ctx.db,
                dag_id,
                dag_run_id,
                _RUN_STATES[body.state],
                now=ctx.clock(),
                wake=ctx.wake,
            )
        if "note" in fields:
            await set_dag_run_note(ctx.db, dag_id, dag_run_id, body.note)
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
    if not body.dry_run and body.note is not None:
        await set_dag_run_note(ctx.db, dag_id, dag_run_id, body.note)
    if body.dry_run:
        rows = await task_instance_rows(
            ctx.db, dag_id, [(c.run_id, c.task_id, c.map_index) for c in cleared]
        )
        return ClearTaskInstanceCollectionResponse(
            task_instances=[TaskInstanceResponse.of(row) for row in rows],
            total_entries=len(rows),
        )
    return DAGRunResponse.of(await require_run(ctx.db, dag_id, dag_run_id))
