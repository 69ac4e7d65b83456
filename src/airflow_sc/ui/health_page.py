"""`/health`: each component's status and latest heartbeat, as `GET /api/v2/monitor/health`
answers them (the same `read_health`, with its quick probe), for any signed-in user.

The health banner links here. A component that never beat has no status (`null` in the
API), shown as "never seen"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.api.health import COMPONENTS
from airflow_sc.api.routes.monitor import read_health
from airflow_sc.auth import Permission
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session

__all__ = ["ComponentHealth", "components_of", "router"]

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)

#: Each part of the health answer, in the page's order, with its name on the page.
_NAMES = {
    "metadatabase": "Metadata database",
    "scheduler": "Scheduler",
    "triggerer": "Triggerer",
    "dag_processor": "DAG processor",
}
_BEAT_FIELDS = dict(COMPONENTS.values())


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    #: "healthy", "unhealthy", or None (never seen: no job of its kind has beaten).
    status: str | None
    #: Its latest heartbeat; None for the database, which has none, or never seen.
    heartbeat: datetime | None
    #: Seconds from that heartbeat to when the page was read.
    age: float | None
    #: Whether the component has a heartbeat at all (not the database).
    beats: bool


def components_of(body: dict[str, Any], now: datetime) -> list[ComponentHealth]:
    """The page's rows from a health answer read at `now`."""
    rows = []
    for field, name in _NAMES.items():
        part = body.get(field) or {}
        beat_field = _BEAT_FIELDS.get(field)
        raw = part.get(beat_field) if beat_field else None
        beat = datetime.fromisoformat(raw) if raw else None
        age = (now - beat).total_seconds() if beat is not None else None
        rows.append(ComponentHealth(name, part.get("status"), beat, age, beat_field is not None))
    return rows


@router.get("/health")
async def health_page(request: Request, session: Annotated[Session, Depends(_READ)]) -> Response:
    ctx = context_of(request)
    body = await read_health(ctx)
    now = ctx.clock()
    return render(
        "health.html",
        {
            "session": session,
            "components": components_of(body, now),
            "now": now,
            "timeout": ctx.settings.scheduler.heartbeat_timeout,
        },
    )
