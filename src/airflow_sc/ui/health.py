"""The health banner: what `GET /api/v2/monitor/health` reports unhealthy, on every page.

Each signed-in page reads the health answer when it is rendered (`page_health`, the same
quick probe as the route: during a database outage it answers at once) and shows a banner
naming what is unhealthy; the live pages' streams read it again every `HEALTH_SECONDS` and
send it when it changed (`live.py`), so an open page shows an outage, and its end, without
a reload.
"""

from __future__ import annotations

from typing import Final

from airflow_sc.api.context import ApiContext
from airflow_sc.api.health import unhealthy_parts
from airflow_sc.api.routes.monitor import read_health

__all__ = ["HEALTH_SECONDS", "page_health"]

#: How often a live page's stream reads the health answer again.
HEALTH_SECONDS: Final = 5.0


async def page_health(ctx: ApiContext) -> tuple[str, ...]:
    """What is unhealthy now, named for a user ("the metadata database", ...)."""
    return unhealthy_parts(await read_health(ctx))
