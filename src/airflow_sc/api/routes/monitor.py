"""`/api/v2/monitor/health` and `/api/v2/version`: the routes that need no authentication."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter
from pydantic import BaseModel

from airflow_sc import __version__
from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.health import health_body
from airflow_sc.db.queries import health as queries
from airflow_sc.db.retry import PROBE_RETRY

log = logging.getLogger(__name__)

router = APIRouter()

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
    """Health of the metadata database and of the scheduler-side components.

    A quick probe (`PROBE_RETRY`): during an outage this answers at once that the
    database (and every component that needs it) is unhealthy.
    """
    return HealthInfoResponse.model_validate(await read_health(ctx))


async def read_health(ctx: ApiContext) -> dict[str, Any]:
    """The health answer's body, read now (also what the UI's banner shows)."""
    beats: dict[str, datetime] | None = None
    with anyio.move_on_after(DB_CHECK_TIMEOUT):
        try:
            beats = await queries.latest_heartbeats(ctx.db.with_retry(PROBE_RETRY))
        except Exception as exc:
            log.warning("health check: metadata database unreachable: %s", exc)
    if beats is not None:
        ctx.last_heartbeats.beats = beats
    return health_body(
        beats,
        last_known=ctx.last_heartbeats.beats,
        now=ctx.clock(),
        heartbeat_timeout=ctx.settings.scheduler.heartbeat_timeout,
    )


@router.get("/version", tags=["Version"])
async def get_version() -> VersionInfo:
    return VersionInfo(version=__version__, git_version=None)
