"""Request and response bodies of the DAG run routes, with Airflow's names and fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from airflow_sc.api.listing import (
    BatchListBody,
    ListQuery,
    order_by_param,
    pattern_param,
    prefix_pattern_param,
)
from airflow_sc.api.schemas.filters import RunRangeFilters, UpdatedAtFilter, UtcDatetime
from airflow_sc.api.schemas.stored import StoredObject
from airflow_sc.db.queries.api_runs import DAG_RUN_ORDER_KEYS, DagRunRow, DagVersionRow
from airflow_sc.domain.states import DagRunState

__all__ = [
    "DAGRunClearBody",
    "DAGRunCollectionResponse",
    "DAGRunPatchBody",
    "DAGRunResponse",
    "DAGRunsBatchBody",
    "DagRunListQuery",
    "DagRunMutableStates",
    "DagRunTriggeredByType",
    "DagRunType",
    "DagVersionResponse",
    "TriggerDAGRunPostBody",
]


class DagRunType(StrEnum):
    BACKFILL = "backfill"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    OPERATOR_TRIGGERED = "operator_triggered"
    ASSET_TRIGGERED = "asset_triggered"
    ASSET_MATERIALIZATION = "asset_materialization"


class DagRunTriggeredByType(StrEnum):
    CLI = "cli"
    OPERATOR = "operator"
    REST_API = "rest_api"
    UI = "ui"
    TEST = "test"
    TIMETABLE = "timetable"
    ASSET = "asset"
    BACKFILL = "backfill"


class DagRunMutableStates(StrEnum):
    """States a user may set a run to."""

    QUEUED = "queued"
    SUCCESS = "success"
    FAILED = "failed"


class DagVersionResponse(BaseModel):
    id: str
    version_number: int
    dag_id: str
    bundle_name: str | None
    bundle_version: str | None
    created_at: datetime
    dag_display_name: str
    bundle_url: str | None = None

    @classmethod
    def of(cls, row: DagVersionRow) -> DagVersionResponse:
        return cls(
            id=row.id,
            version_number=row.version_number,
            dag_id=row.dag_id,
            bundle_name=row.bundle_name,
            bundle_version=row.bundle_version,
            created_at=row.created_at,
            dag_display_name=row.dag_display_name,
        )


class DAGRunResponse(BaseModel):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    last_scheduling_decision: datetime | None
    run_type: DagRunType
    state: DagRunState
    triggered_by: DagRunTriggeredByType | None
    triggering_user_name: str | None
    conf: StoredObject | None
    note: str | None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None
    dag_display_name: str
    partition_key: str | None = None
    partition_date: datetime | None = None

    @classmethod
    def of(cls, row: DagRunRow) -> DAGRunResponse:
        return cls(
            dag_run_id=row.run_id,
            dag_id=row.dag_id,
            logical_date=row.logical_date,
            queued_at=row.queued_at,
            start_date=row.start_date,
            end_date=row.end_date,
            duration=row.duration,
            data_interval_start=row.data_interval_start,
            data_interval_end=row.data_interval_end,
            run_after=row.run_after,
            last_scheduling_decision=row.last_scheduling_decision,
            run_type=DagRunType(row.run_type),
            state=DagRunState(row.state),
            triggered_by=DagRunTriggeredByType(row.triggered_by) if row.triggered_by else None,
            triggering_user_name=row.triggering_user_name,
            conf=row.conf,
            note=row.note,
            dag_versions=[DagVersionResponse.of(row.dag_version)] if row.dag_version else [],
            bundle_version=row.bundle_version,
            dag_display_name=row.dag_display_name,
        )


class DAGRunCollectionResponse(BaseModel):
    dag_runs: list[DAGRunResponse]
    total_entries: int | None
    total_entries_limit: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None


class TriggerDAGRunPostBody(BaseModel):
    """`logical_date` is required but may be null (a run without a logical date)."""

    model_config = ConfigDict(extra="forbid")

    dag_run_id: str | None = None
    data_interval_start: UtcDatetime | None = None
    data_interval_end: UtcDatetime | None = None
    logical_date: UtcDatetime | None
    run_after: UtcDatetime | None = None
    conf: dict[str, Any] | None = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=1000)
    partition_key: str | None = None

    @model_validator(mode="after")
    def _intervals_come_in_pairs(self) -> Self:
        if (self.data_interval_start is None) != (self.data_interval_end is None):
            raise ValueError(
                "Either both data_interval_start and data_interval_end must be provided "
                "or both must be None"
            )
        return self


class DAGRunPatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: DagRunMutableStates | None = None
    note: str | None = Field(default=None, max_length=1000)


class DAGRunClearBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = True
    only_failed: bool = False
    only_new: bool = False
    run_on_latest_version: bool | None = None
    note: str | None = Field(default=None, max_length=1000)


class DAGRunsBatchBody(BatchListBody, RunRangeFilters):
    model_config = ConfigDict(extra="forbid")

    dag_ids: list[str] | None = None
    states: list[DagRunState | None] | None = None
    conf_contains: str | None = None


class DagRunListQuery(ListQuery, RunRangeFilters, UpdatedAtFilter):
    """Query parameters of `GET /dags/{dag_id}/dagRuns`."""

    conf_contains: str | None = None
    run_type: list[DagRunType] = Field(default_factory=list)
    state: list[DagRunState] = Field(default_factory=list)
    bundle_version: str | None = None
    order_by: list[str] = order_by_param(DAG_RUN_ORDER_KEYS, ["id"])
    run_id_pattern: str | None = pattern_param("run_id")
    run_id_prefix_pattern: str | None = prefix_pattern_param("run_id")
    triggering_user_name_pattern: str | None = pattern_param("triggering_user_name")
    triggering_user_name_prefix_pattern: str | None = prefix_pattern_param("triggering_user_name")
    dag_id_pattern: str | None = pattern_param("dag_id")
    dag_id_prefix_pattern: str | None = prefix_pattern_param("dag_id")
