"""DAGs: `/dags`, `/dags/{dag_id}`, details, tasks, sources, tags, stats, import errors."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from pydantic import Field

from airflow_sc.actions import DagNotFound, set_dag_paused, set_dags_paused
from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import (
    ListQuery,
    PageQuery,
    order_by_param,
    pattern_param,
    prefix_pattern_param,
    requested_order,
)
from airflow_sc.api.schemas.dags import (
    DAGCollectionResponse,
    DAGDetailsResponse,
    DAGPatchBody,
    DAGResponse,
    DagRunState,
    DAGSourceResponse,
    DagStatsCollectionResponse,
    DagStatsResponse,
    DagStatsStateResponse,
    DAGTagCollectionResponse,
    DagTagResponse,
    ImportErrorCollectionResponse,
    ImportErrorResponse,
    TaskCollectionResponse,
    TaskResponse,
    TimeDelta,
)
from airflow_sc.api.schemas.filters import UtcDatetime, datetime_range
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_dags as queries
from airflow_sc.domain.listing import in_memory_order
from airflow_sc.serialization import TASK_ORDER_KEYS, DagSpec, SerializationError, TaskSpec

router = APIRouter()

_READ = [Depends(requires(Permission.DAG_READ))]
_EDIT = [Depends(requires(Permission.DAG_EDIT))]
_DELETE = [Depends(requires(Permission.DAG_DELETE))]

DAG_RUN_STATES = ("queued", "running", "success", "failed")


def _not_found(dag_id: str) -> HTTPException:
    return HTTPException(404, f"The Dag with ID: `{dag_id}` was not found")


def file_token(ctx: ApiContext, fileloc: str) -> str:
    """An opaque token naming a DAG file (Airflow signs the path; so do we)."""
    key = ctx.require_signing_key().encode()
    return hmac.new(key, fileloc.encode(), hashlib.sha256).hexdigest()[:32]


def _dag_response(ctx: ApiContext, row: queries.DagRow) -> dict[str, Any]:
    display = row.dag_display_name or row.dag_id
    owners = [o.strip() for o in (row.owners or "").split(",") if o.strip()]
    return {
        "dag_id": row.dag_id,
        "dag_display_name": display,
        "is_paused": row.is_paused,
        "is_stale": row.is_stale,
        "last_parsed_time": row.last_parsed_time,
        "last_parse_duration": None,
        "last_expired": None,
        "bundle_name": row.bundle_name,
        "bundle_version": row.bundle_version,
        "relative_fileloc": row.relative_fileloc,
        "fileloc": row.fileloc or "",
        "description": row.description,
        "timetable_summary": row.timetable_summary,
        "timetable_description": row.timetable_description,
        "timetable_partitioned": False,
        "timetable_periodic": row.next_dagrun is not None,
        "tags": [
            DagTagResponse(name=tag, dag_id=row.dag_id, dag_display_name=display)
            for tag in row.tags
        ],
        "max_active_tasks": row.max_active_tasks,
        "max_active_runs": row.max_active_runs,
        "max_consecutive_failed_dag_runs": row.max_consecutive_failed_dag_runs,
        "has_task_concurrency_limits": row.has_task_concurrency_limits,
        "has_import_errors": row.has_import_errors,
        "next_dagrun_logical_date": row.next_dagrun,
        "next_dagrun_data_interval_start": row.next_dagrun_data_interval_start,
        "next_dagrun_data_interval_end": row.next_dagrun_data_interval_end,
        "next_dagrun_run_after": row.next_dagrun_create_after,
        "allowed_run_types": None,
        "owners": owners,
        "is_backfillable": row.next_dagrun is not None,
        "file_token": file_token(ctx, row.fileloc or ""),
    }


# -- /dags -------------------------------------------------------------------------------


class DagSelection(PageQuery):
    """The filters `GET /dags` and `PATCH /dags` share."""

    tags: list[str] = Field(default_factory=list)
    tags_match_mode: Literal["any", "all"] | None = None
    owners: list[str] = Field(default_factory=list)
    dag_id_pattern: str | None = pattern_param("dag_id")
    dag_id_prefix_pattern: str | None = prefix_pattern_param("dag_id")
    exclude_stale: bool = True
    paused: bool | None = None

    def dag_filter(self) -> queries.DagFilter:
        return queries.DagFilter(
            dag_id=self.name_pattern("dag_id"),
            tags=self.tags,
            tags_match_mode=self.tags_match_mode,
            owners=self.owners,
            exclude_stale=self.exclude_stale,
            paused=self.paused,
        )


class DagPatchQuery(DagSelection):
    """The query of `PATCH /dags`: which DAGs it changes."""

    update_mask: list[str] | None = None


class DagListQuery(ListQuery, DagSelection):
    """The query of `GET /dags`. airflow-sc has no favourites: `is_favorite=true` matches
    nothing and `false` everything."""

    dag_display_name_pattern: str | None = pattern_param("dag_display_name")
    dag_display_name_prefix_pattern: str | None = prefix_pattern_param("dag_display_name")
    has_import_errors: bool | None = None
    last_dag_run_state: DagRunState | None = None
    bundle_name: str | None = None
    bundle_version: str | None = None
    has_asset_schedule: bool | None = None
    dag_run_start_date_gte: UtcDatetime | None = None
    dag_run_start_date_gt: UtcDatetime | None = None
    dag_run_start_date_lte: UtcDatetime | None = None
    dag_run_start_date_lt: UtcDatetime | None = None
    dag_run_end_date_gte: UtcDatetime | None = None
    dag_run_end_date_gt: UtcDatetime | None = None
    dag_run_end_date_lte: UtcDatetime | None = None
    dag_run_end_date_lt: UtcDatetime | None = None
    dag_run_state: list[DagRunState] = Field(default_factory=list)
    order_by: list[str] = order_by_param(queries.DAG_ORDER_KEYS, ["dag_id"])
    is_favorite: bool | None = None

    def dag_filter(self) -> queries.DagFilter:
        return dataclasses.replace(
            super().dag_filter(),
            dag_display_name=self.name_pattern("dag_display_name"),
            has_import_errors=self.has_import_errors,
            bundle_name=self.bundle_name,
            bundle_version=self.bundle_version,
            last_dag_run_state=self.last_dag_run_state,
            has_asset_schedule=self.has_asset_schedule,
            dag_run_start_date=datetime_range(self, "dag_run_start_date"),
            dag_run_end_date=datetime_range(self, "dag_run_end_date"),
            dag_run_states=self.dag_run_state,
            match_nothing=bool(self.is_favorite),
        )


@router.get("/dags", tags=["DAG"], dependencies=_READ, responses=error_responses(400))
async def get_dags(ctx: Ctx, query: Annotated[DagListQuery, Query()]) -> DAGCollectionResponse:
    """Get all Dags."""
    page = await queries.list_dags(
        ctx.db, query.dag_filter(), query.listing(queries.DAG_ORDER_KEYS)
    )
    return DAGCollectionResponse.model_validate(
        {"dags": [_dag_response(ctx, r) for r in page.items], "total_entries": page.total}
    )


@router.patch("/dags", tags=["DAG"], dependencies=_EDIT, responses=error_responses(400, 404))
async def patch_dags(
    ctx: Ctx, body: DAGPatchBody, query: Annotated[DagPatchQuery, Query()]
) -> DAGCollectionResponse:
    """Pause or unpause the Dags matching the filters (`dag_id_pattern=~` matches all)."""
    if query.update_mask is not None and query.update_mask != ["is_paused"]:
        raise HTTPException(400, "Only `is_paused` field can be updated through the REST API")
    if not (query.dag_id_pattern or query.dag_id_prefix_pattern):
        # As Airflow: without a pattern nothing is matched, never everything.
        return DAGCollectionResponse(dags=[], total_entries=0)
    listing = query.page_of(["dag_id"], queries.DAG_ORDER_KEYS)
    page = await queries.list_dags(ctx.db, query.dag_filter(), listing)
    # The write goes through the same action as a single PATCH (and wakes the scheduler).
    found = set(
        await set_dags_paused(ctx.db, [r.dag_id for r in page.items], body.is_paused, wake=ctx.wake)
    )
    changed = [
        dataclasses.replace(r, is_paused=body.is_paused) for r in page.items if r.dag_id in found
    ]
    return DAGCollectionResponse.model_validate(
        {"dags": [_dag_response(ctx, r) for r in changed], "total_entries": page.total}
    )


@router.get("/dags/{dag_id}", tags=["DAG"], dependencies=_READ, responses=error_responses(400, 404))
async def get_dag(ctx: Ctx, dag_id: str) -> DAGResponse:
    """Get basic information about a Dag."""
    row = await queries.get_dag(ctx.db, dag_id)
    if row is None:
        raise _not_found(dag_id)
    return DAGResponse.model_validate(_dag_response(ctx, row))


@router.patch(
    "/dags/{dag_id}", tags=["DAG"], dependencies=_EDIT, responses=error_responses(400, 404)
)
async def patch_dag(
    ctx: Ctx,
    dag_id: str,
    body: DAGPatchBody,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> DAGResponse:
    """Pause or unpause a Dag."""
    if update_mask is not None and update_mask != ["is_paused"]:
        raise HTTPException(400, "Only `is_paused` field can be updated through the REST API")
    try:
        await set_dag_paused(ctx.db, dag_id, body.is_paused, wake=ctx.wake)
    except DagNotFound:
        raise _not_found(dag_id) from None
    row = await queries.get_dag(ctx.db, dag_id)
    if row is None:
        raise _not_found(dag_id)
    return DAGResponse.model_validate(_dag_response(ctx, row))


@router.delete(
    "/dags/{dag_id}", tags=["DAG"], dependencies=_DELETE, responses=error_responses(400, 404, 409)
)
async def delete_dag(ctx: Ctx, dag_id: str) -> dict[str, Any]:
    """Delete a Dag and its history (runs, task instances, XCom)."""
    outcome = await queries.delete_dag(ctx.db, dag_id)
    if outcome == "missing":
        raise _not_found(dag_id)
    if outcome == "running":
        raise HTTPException(409, f"Dag {dag_id} has running task instances; try again later")
    return {}


# -- details and tasks -------------------------------------------------------------------


async def _load_spec(ctx: ApiContext, dag_id: str) -> tuple[queries.DagRow, DagSpec | None, int]:
    found = await queries.latest_serialized_dag(ctx.db, dag_id)
    if found is None:
        raise _not_found(dag_id)
    row, data, versions = found
    if data is None:
        return row, None, versions
    try:
        return row, DagSpec.from_dict(data), versions
    except SerializationError as exc:
        raise HTTPException(404, f"The Dag with ID: `{dag_id}` cannot be read: {exc}") from None


@router.get(
    "/dags/{dag_id}/details", tags=["DAG"], dependencies=_READ, responses=error_responses(400, 404)
)
async def get_dag_details(ctx: Ctx, dag_id: str) -> DAGDetailsResponse:
    """Get details of a Dag (its latest parsed version)."""
    row, spec, versions = await _load_spec(ctx, dag_id)
    base = _dag_response(ctx, row)
    params = ctx.masker.redact(dict(spec.params)) if spec else None
    details = {
        **base,
        "catchup": spec.catchup if spec else False,
        "dag_run_timeout": spec.dagrun_timeout if spec else None,
        "asset_expression": None,
        "doc_md": spec.doc_md if spec else None,
        "start_date": spec.start_date if spec else None,
        "end_date": spec.end_date if spec else None,
        "is_paused_upon_creation": spec.is_paused_upon_creation if spec else None,
        "params": params,
        "render_template_as_native_obj": False,
        "template_search_path": list(spec.template_searchpath) if spec else None,
        "timezone": spec.timezone if spec else None,
        "last_parsed": row.last_parsed_time,
        "default_args": None,
        "concurrency": row.max_active_tasks,
        "latest_dag_version": (
            {"version_number": versions, "dag_id": dag_id, "bundle_name": row.bundle_name}
            if versions
            else None
        ),
    }
    return DAGDetailsResponse.model_validate(details)


def _timedelta(value: timedelta | None) -> TimeDelta | None:
    if value is None:
        return None
    return TimeDelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)


def _task_response(spec: DagSpec, task: TaskSpec) -> TaskResponse:
    module, _, name = task.operator.rpartition(".")
    return TaskResponse(
        task_id=task.task_id,
        task_display_name=task.task_id,
        owner=task.owner,
        start_date=spec.start_date,
        end_date=spec.end_date,
        trigger_rule=str(task.trigger_rule.value),
        depends_on_past=task.depends_on_past,
        wait_for_downstream=task.wait_for_downstream,
        retries=task.retries,
        queue=task.queue,
        pool=task.pool,
        pool_slots=task.pool_slots,
        execution_timeout=_timedelta(task.execution_timeout),
        retry_delay=_timedelta(task.retry_delay),
        retry_exponential_backoff=float(task.retry_exponential_backoff),
        priority_weight=task.priority_weight,
        weight_rule=str(task.weight_strategy["__type"])
        if task.weight_strategy is not None
        else str(task.weight_rule.value),
        ui_color=None,
        ui_fgcolor=None,
        template_fields=list(task.template_fields),
        downstream_task_ids=sorted(task.downstream_task_ids),
        doc_md=task.doc_md,
        operator_name=name or task.operator,
        params=None,
        class_ref={"module_path": module or None, "class_name": name or task.operator},
        is_mapped=False,
        extra_links=[],
    )


@router.get(
    "/dags/{dag_id}/tasks", tags=["Task"], dependencies=_READ, responses=error_responses(400, 404)
)
async def get_tasks(ctx: Ctx, dag_id: str, order_by: str = "task_id") -> TaskCollectionResponse:
    """The tasks of a Dag's latest version."""
    listing = requested_order([order_by], TASK_ORDER_KEYS)
    _, spec, _ = await _load_spec(ctx, dag_id)
    if spec is None:
        raise _not_found(dag_id)
    tasks = in_memory_order(
        [_task_response(spec, t) for t in spec.tasks.values()],
        listing,
        lambda task, key: getattr(task, key),
        tiebreak=lambda task: task.task_id,
    )
    return TaskCollectionResponse(tasks=tasks, total_entries=len(tasks))


@router.get(
    "/dags/{dag_id}/tasks/{task_id}",
    tags=["Task"],
    dependencies=_READ,
    responses=error_responses(400, 404),
)
async def get_task(ctx: Ctx, dag_id: str, task_id: str) -> TaskResponse:
    _, spec, _ = await _load_spec(ctx, dag_id)
    if spec is None:
        raise _not_found(dag_id)
    task = spec.tasks.get(task_id)
    if task is None:
        raise HTTPException(404, f"Task with id {task_id} not found")
    return _task_response(spec, task)


# -- sources, tags, stats ---------------------------------------------------------------


@router.get(
    "/dagSources/{dag_id}",
    tags=["DagSource"],
    response_model=DAGSourceResponse,
    dependencies=_READ,
    responses=error_responses(400, 404)
    | {406: {"description": "Not Acceptable"}, 200: {"content": {"text/plain": {}}}},
)
async def get_dag_source(
    ctx: Ctx,
    dag_id: str,
    version_number: int | None = None,
    accept: Annotated[str, Header()] = "application/json",
) -> Any:
    """The source code of the file that defines a Dag (JSON, or `text/plain` on request)."""
    info = await queries.get_dag_source_info(ctx.db, dag_id)
    if info is None or info.fileloc is None:
        raise _not_found(dag_id)
    if version_number is not None and version_number != info.version_number:
        raise HTTPException(
            404, f"The source code of Dag {dag_id}, version_number {version_number} was not found"
        )
    try:
        content: str | None = await anyio.Path(info.fileloc).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        content = None
    wanted = accept.split(",")[0].split(";")[0].strip()
    if wanted == "text/plain":
        return Response(content or "", media_type="text/plain")
    if wanted not in ("application/json", "*/*", ""):
        raise HTTPException(406, "Only application/json or text/plain is supported")
    return DAGSourceResponse(
        content=content,
        dag_id=dag_id,
        version_number=info.version_number,
        dag_display_name=info.dag_display_name or dag_id,
    )


class DagTagListQuery(ListQuery):
    order_by: list[str] = order_by_param(queries.DAG_TAG_ORDER_KEYS, ["name"])
    tag_name_pattern: str | None = pattern_param("tag_name")
    tag_name_prefix_pattern: str | None = prefix_pattern_param("tag_name")


@router.get("/dagTags", tags=["DAG"], dependencies=_READ, responses=error_responses(400))
async def get_dag_tags(
    ctx: Ctx, query: Annotated[DagTagListQuery, Query()]
) -> DAGTagCollectionResponse:
    """The distinct tags of all Dags."""
    page = await queries.list_dag_tags(
        ctx.db, query.name_pattern("tag_name"), query.listing(queries.DAG_TAG_ORDER_KEYS)
    )
    return DAGTagCollectionResponse(tags=page.items, total_entries=page.total)


@router.get("/dagStats", tags=["DagStats"], dependencies=_READ, responses=error_responses(400, 404))
async def get_dag_stats(
    ctx: Ctx,
    dag_ids: Annotated[list[str], Query()] = [],  # noqa: B006
) -> DagStatsCollectionResponse:
    """Number of runs in each state, per Dag."""
    found = await queries.count_runs_by_state(ctx.db, dag_ids or None)
    dags = [
        DagStatsResponse(
            dag_id=dag_id,
            dag_display_name=display or dag_id,
            stats=[_state_count(counts, state) for state in DAG_RUN_STATES],
        )
        for dag_id, display, counts in found
    ]
    return DagStatsCollectionResponse(dags=dags, total_entries=len(dags))


def _state_count(counts: Mapping[str, int], state: str) -> DagStatsStateResponse:
    return DagStatsStateResponse.model_validate({"state": state, "count": counts.get(state, 0)})


# -- import errors -------------------------------------------------------------------------


def _import_error(row: queries.ImportErrorRow) -> ImportErrorResponse:
    return ImportErrorResponse(
        import_error_id=row.id,
        timestamp=row.timestamp,
        filename=row.filename,
        bundle_name=row.bundle_name,
        stack_trace=row.stacktrace or "",
    )


class ImportErrorListQuery(ListQuery):
    order_by: list[str] = order_by_param(queries.IMPORT_ERROR_ORDER_KEYS, ["id"])
    filename_pattern: str | None = pattern_param("filename")
    filename_prefix_pattern: str | None = prefix_pattern_param("filename")
    filename: str | None = Field(
        default=None,
        description="Exact filename match. Returns only the import error for this file path.",
    )
    bundle_name: str | None = Field(
        default=None,
        description="Exact bundle name match. Returns only import errors from this bundle.",
    )


@router.get(
    "/importErrors", tags=["Import Error"], dependencies=_READ, responses=error_responses(400)
)
async def get_import_errors(
    ctx: Ctx, query: Annotated[ImportErrorListQuery, Query()]
) -> ImportErrorCollectionResponse:
    """Errors from DAG files that failed to import."""
    where = queries.ImportErrorFilter(
        filename=query.name_pattern("filename"),
        path=query.filename,
        bundle_name=query.bundle_name,
    )
    page = await queries.list_import_errors(
        ctx.db, where, query.listing(queries.IMPORT_ERROR_ORDER_KEYS)
    )
    return ImportErrorCollectionResponse(
        import_errors=[_import_error(r) for r in page.items], total_entries=page.total
    )


@router.get(
    "/importErrors/{import_error_id}",
    tags=["Import Error"],
    dependencies=_READ,
    responses=error_responses(404),
)
async def get_import_error(ctx: Ctx, import_error_id: int) -> ImportErrorResponse:
    row = await queries.get_import_error(ctx.db, import_error_id)
    if row is None:
        raise HTTPException(
            404, f"The ImportError with import_error_id: `{import_error_id}` was not found"
        )
    return _import_error(row)
