"""The Starlette application factory."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from airflow_sc.api.context import ApiContext
from airflow_sc.api.draining import RefuseWritesWhileDraining
from airflow_sc.api.routes import monitor

__all__ = ["ApiContext", "create_app"]

EXECUTION_API_PREFIX = "/execution"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(ctx: ApiContext) -> Starlette:
    """The whole HTTP surface; errors use Airflow's `{"detail": ...}` shape."""
    app = Starlette(
        routes=[Mount("/api/v2", routes=monitor.routes)],
        middleware=[
            Middleware(
                RefuseWritesWhileDraining,
                shutdown=ctx.shutdown,
                exempt_prefixes=(EXECUTION_API_PREFIX,),
            )
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.ctx = ctx
    return app
