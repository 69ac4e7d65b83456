"""`/api/v2/monitor/health` and `/api/v2/version`: the routes that need no authentication."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter
from pydantic import BaseModel

from airflow_sc import __version__
from airflow_sc.api.context import Ctx
from airflow_sc.db.queries import health as queries

log = logging.getLogger(__name__)

router = APIRouter()

#: job.job_type (Airflow's names) -> (field in the health response, its heartbeat field)
COMPONENTS = {
    "SchedulerJob": ("scheduler", "latest_scheduler_heartbeat"),
    "TriggererJob": ("triggerer", "latest_triggerer_heartbeat"),
    "DagProcessorJob": ("dag_processor", "latest_dag_processor_heartbeat"),
}
DB_CHECK_TIMEOUT = 5.0


class BaseInfoResponse(BaseModel):
    status: str | None


class SchedulerInfoResponse(BaseInfoResponse):
    latest_scheduler_heartbeat: str | None


class TriggererInfoResponse(BaseInfoResponse):
    latest_triggerer_heartbeat: str | None


class DagProcessorInfoResponse(BaseInfoResponse):
    latest_dag_processor_heartbeat: str | None


class HealthInfoResponse(BaseModel):
    metadatabase: BaseInfoResponse
    scheduler: SchedulerInfoResponse
    triggerer: TriggererInfoResponse
    dag_processor: DagProcessorInfoResponse | None


class VersionInfo(BaseModel):
    version: str
    git_version: str | None


@router.get("/monitor/health", tags=["Monitor"])
async def get_health(ctx: Ctx) -> HealthInfoResponse:
    """Health of the metadata database and of the scheduler-side components."""
    body: dict[str, Any] = {"metadatabase": {"status": "unhealthy"}}
    beats: dict[str, datetime] = {}
    with anyio.move_on_after(DB_CHECK_TIMEOUT):
        try:
            await queries.ping(ctx.db)
            beats = await queries.latest_heartbeats(ctx.db)
        except Exception:
            log.warning("health check: metadata database unreachable", exc_info=True)
        else:
            body["metadatabase"]["status"] = "healthy"
    now = ctx.clock()
    timeout = ctx.settings.scheduler.heartbeat_timeout
    for job_type, (field, beat_field) in COMPONENTS.items():
        beat = beats.get(job_type)
        status = (
            None
            if beat is None
            else ("healthy" if (now - beat).total_seconds() <= timeout else "unhealthy")
        )
        body[field] = {"status": status, beat_field: beat.isoformat() if beat else None}
    return HealthInfoResponse.model_validate(body)


@router.get("/version", tags=["Version"])
async def get_version() -> VersionInfo:
    return VersionInfo(version=__version__, git_version=None)
