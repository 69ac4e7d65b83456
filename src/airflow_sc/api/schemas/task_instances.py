"""Request and response bodies of the task instance routes, with Airflow's names and fields."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_sc.api.listing import BatchListBody
from airflow_sc.api.schemas.dag_runs import DagVersionResponse
from airflow_sc.api.schemas.filters import RunRangeFilters, UtcDatetime
from airflow_sc.api.schemas.stored import StoredObject
from airflow_sc.db.queries.api_task_instances import (
    JobRow,
    TaskInstanceRow,
    TaskInstanceTryRow,
    TriggerRow,
)
from airflow_sc.domain.states import TaskInstanceState

__all__ = [
    "MARKABLE_STATES",
    "ClearTaskInstanceCollectionResponse",
    "ClearTaskInstancesBody",
    "JobResponse",
    "PatchTaskInstanceBody",
    "TaskInstanceCollectionResponse",
    "TaskInstanceHistoryCollectionResponse",
    "TaskInstanceHistoryResponse",
    "TaskInstanceResponse",
    "TaskInstancesBatchBody",
    "TriggerResponse",
]

#: States a user may set a task instance to (Airflow's PATCH accepts these only).
MARKABLE_STATES = (
    TaskInstanceState.SUCCESS,
    TaskInstanceState.FAILED,
    TaskInstanceState.SKIPPED,
)


def _config_text(value: Any) -> str:
    # Airflow returns executor_config as the string form of whatever the task set.
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)


class TriggerResponse(BaseModel):
    id: int
    classpath: str
    kwargs: str
    created_date: datetime
    queue: str | None
    triggerer_id: int | None

    @classmethod
    def of(cls, row: TriggerRow) -> TriggerResponse:
        return cls(
            id=row.id,
            classpath=row.classpath,
            # Trigger kwargs may hold secrets and are stored encrypted: never shown.
            kwargs="<redacted>",
            created_date=row.created_date,
            queue=row.queue,
            triggerer_id=row.triggerer_id,
        )


class JobResponse(BaseModel):
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
    dag_display_name: str | None = None

    @classmethod
    def of(cls, row: JobRow) -> JobResponse:
        return cls(
            id=row.id,
            dag_id=row.dag_id,
            state=row.state,
            job_type=row.job_type,
            start_date=row.start_date,
            end_date=row.end_date,
            latest_heartbeat=row.latest_heartbeat,
            executor_class=row.executor_class,
            hostname=row.hostname,
            unixname=row.unixname,
        )


class TaskInstanceHistoryResponse(BaseModel):
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    state: TaskInstanceState | None
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
    queued_when: datetime | None
    scheduled_when: datetime | None
    pid: int | None
    executor: str | None
    executor_config: str
    dag_version: DagVersionResponse | None

    @staticmethod
    def common_fields(row: TaskInstanceTryRow) -> dict[str, Any]:
        return {
            "task_id": row.task_id,
            "dag_id": row.dag_id,
            "dag_run_id": row.run_id,
            "map_index": row.map_index,
            "start_date": row.start_date,
            "end_date": row.end_date,
            "duration": row.duration,
            "state": TaskInstanceState(row.state) if row.state else None,
            "try_number": row.try_number,
            "max_tries": row.max_tries,
            "task_display_name": row.task_display_name,
            "dag_display_name": row.dag_display_name,
            "hostname": row.hostname,
            "unixname": row.unixname,
            "pool": row.pool,
            "pool_slots": row.pool_slots,
            "queue": row.queue,
            "priority_weight": row.priority_weight,
            "operator": row.operator,
            "operator_name": row.operator_name,
            "queued_when": row.queued_dttm,
            "scheduled_when": row.scheduled_dttm,
            "pid": row.pid,
            "executor": row.executor,
            "executor_config": _config_text(row.executor_config),
            "dag_version": DagVersionResponse.of(row.dag_version) if row.dag_version else None,
        }

    @classmethod
    def of(cls, row: TaskInstanceTryRow) -> TaskInstanceHistoryResponse:
        return cls(**cls.common_fields(row))


class TaskInstanceHistoryCollectionResponse(BaseModel):
    task_instances: list[TaskInstanceHistoryResponse]
    total_entries: int


class TaskInstanceResponse(TaskInstanceHistoryResponse):
    id: str
    logical_date: datetime | None
    run_after: datetime
    note: str | None
    rendered_map_index: str | None
    rendered_fields: StoredObject = Field(default_factory=dict)
    trigger: TriggerResponse | None
    triggerer_job: JobResponse | None

    @classmethod
    def of(cls, row: TaskInstanceTryRow) -> TaskInstanceResponse:
        assert isinstance(row, TaskInstanceRow)
        return cls(
            **cls.common_fields(row),
            id=row.id,
            logical_date=row.logical_date,
            run_after=row.run_after,
            note=row.note,
            rendered_map_index=row.rendered_map_index,
            rendered_fields=row.rendered_fields or {},
            trigger=TriggerResponse.of(row.trigger) if row.trigger else None,
            triggerer_job=JobResponse.of(row.triggerer_job) if row.triggerer_job else None,
        )


class TaskInstanceCollectionResponse(BaseModel):
    task_instances: list[TaskInstanceResponse]
    total_entries: int | None
    total_entries_limit: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None


class ClearTaskInstanceCollectionResponse(BaseModel):
    """What a dry-run clear of a DAG run would clear."""

    task_instances: list[TaskInstanceResponse]
    total_entries: int


class TaskInstancesBatchBody(BatchListBody, RunRangeFilters):
    model_config = ConfigDict(extra="forbid")

    dag_ids: list[str] | None = None
    dag_run_ids: list[str] | None = None
    task_ids: list[str] | None = None
    state: list[TaskInstanceState | None] | None = None
    pool: list[str] | None = None
    queue: list[str] | None = None
    executor: list[str] | None = None


class PatchTaskInstanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_state: TaskInstanceState | None = None
    note: str | None = Field(default=None, max_length=1000)
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False

    @field_validator("new_state")
    @classmethod
    def _markable(cls, value: TaskInstanceState | None) -> TaskInstanceState | None:
        if value is not None and value not in MARKABLE_STATES:
            allowed = [str(s) for s in MARKABLE_STATES]
            raise ValueError(f"'{value}' is not one of {allowed}")
        return value


class ClearTaskInstancesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = True
    start_date: UtcDatetime | None = None
    end_date: UtcDatetime | None = None
    only_failed: bool = True
    only_running: bool = False
    reset_dag_runs: bool = True
    #: A task id clears every map index; `[task_id, map_index]` clears one.
    task_ids: list[str | tuple[str, int]] | None = None
    dag_run_id: str | None = None
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False
    run_on_latest_version: bool | None = None
    prevent_running_task: bool = False
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _run_or_dates(self) -> Self:
        if self.dag_run_id is not None and (
            self.start_date is not None or self.end_date is not None
        ):
            raise ValueError("Either dag_run_id or start_date/end_date may be given, not both")
        return self
