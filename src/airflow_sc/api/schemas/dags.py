"""DAG, task, tag, stats, source and import-error models (Airflow's names and fields)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from airflow_sc.api.schemas.stored import StoredObject

DagRunState = Literal["queued", "running", "success", "failed"]
DagRunType = Literal["backfill", "scheduled", "manual", "asset_triggered", "asset_materialization"]


class DagTagResponse(BaseModel):
    name: str
    dag_id: str
    dag_display_name: str


class DAGResponse(BaseModel):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None
    last_parse_duration: float | None
    last_expired: datetime | None
    bundle_name: str | None
    bundle_version: str | None
    relative_fileloc: str | None
    fileloc: str
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    timetable_partitioned: bool
    timetable_periodic: bool
    tags: list[DagTagResponse]
    max_active_tasks: int
    max_active_runs: int | None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun_logical_date: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_run_after: datetime | None
    allowed_run_types: list[DagRunType] | None
    owners: list[str]
    is_backfillable: bool
    file_token: str


class DAGDetailsResponse(DAGResponse):
    catchup: bool
    dag_run_timeout: timedelta | None
    asset_expression: StoredObject | None
    doc_md: str | None
    start_date: datetime | None
    end_date: datetime | None
    is_paused_upon_creation: bool | None
    params: StoredObject | None
    render_template_as_native_obj: bool
    template_search_path: list[str] | None
    timezone: str | None
    last_parsed: datetime | None
    default_args: StoredObject | None
    rerun_with_latest_version: bool | None = None
    owner_links: dict[str, str] | None = None
    is_favorite: bool = False
    active_runs_count: int = 0
    concurrency: int
    latest_dag_version: dict[str, Any] | None


class DAGCollectionResponse(BaseModel):
    dags: list[DAGResponse]
    total_entries: int


class DAGPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_paused: bool


class TimeDelta(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(default="TimeDelta", alias="__type")
    days: int
    seconds: int
    microseconds: int


class TaskResponse(BaseModel):
    task_id: str | None
    task_display_name: str | None
    owner: str | None
    start_date: datetime | None
    end_date: datetime | None
    trigger_rule: str | None
    depends_on_past: bool
    wait_for_downstream: bool
    retries: float | None
    queue: str | None
    pool: str | None
    pool_slots: float | None
    execution_timeout: TimeDelta | None
    retry_delay: TimeDelta | None
    retry_exponential_backoff: float
    priority_weight: float | None
    weight_rule: str | None
    ui_color: str | None
    ui_fgcolor: str | None
    template_fields: list[str] | None
    downstream_task_ids: list[str] | None
    doc_md: str | None
    operator_name: str | None
    params: StoredObject | None
    class_ref: dict[str, Any] | None
    is_mapped: bool | None
    extra_links: list[str]


class TaskCollectionResponse(BaseModel):
    tasks: list[TaskResponse]
    total_entries: int


class DAGSourceResponse(BaseModel):
    content: str | None
    dag_id: str
    version_number: int | None
    dag_display_name: str


class DAGTagCollectionResponse(BaseModel):
    tags: list[str]
    total_entries: int


class DagStatsStateResponse(BaseModel):
    state: DagRunState
    count: int


class DagStatsResponse(BaseModel):
    dag_id: str
    dag_display_name: str
    stats: list[DagStatsStateResponse]


class DagStatsCollectionResponse(BaseModel):
    dags: list[DagStatsResponse]
    total_entries: int


class ImportErrorResponse(BaseModel):
    import_error_id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None
    stack_trace: str


class ImportErrorCollectionResponse(BaseModel):
    import_errors: list[ImportErrorResponse]
    total_entries: int
