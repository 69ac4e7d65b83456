"""The application factory: FastAPI (on Starlette) serving `/api/v2` and `/auth/token`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from airflow_sc import __version__
from airflow_sc.api.admission import AdmitRequests
from airflow_sc.api.context import ApiContext
from airflow_sc.api.draining import RefuseWrites, write_refusal
from airflow_sc.api.errors import install_error_handlers
from airflow_sc.api.execution.mount import execution_app_for
from airflow_sc.api.list_cache import CacheLists
from airflow_sc.api.request_guard import GuardRequestInput
from airflow_sc.api.routes import ROUTERS, auth
from airflow_sc.execution.protocol import EXECUTION_API_PREFIX

__all__ = ["API_PREFIX", "EXECUTION_API_PREFIX", "ApiContext", "create_app"]

API_PREFIX = "/api/v2"


def create_app(ctx: ApiContext) -> FastAPI:
    """The whole HTTP surface. `ctx` must be prepared (`prepare_context`): routes need its
    signing key and cipher."""
    cache = []
    if ctx.list_cache is not None:
        # Outermost: a remembered answer waits for no turn.
        cache.append(
            Middleware(
                CacheLists,
                cache=ctx.list_cache,
                db=ctx.db,
                signing_key=ctx.require_signing_key(),
                tokens=ctx.verified_tokens,
                stamps=ctx.user_stamps,
                clock=ctx.clock,
                exempt_prefixes=(EXECUTION_API_PREFIX,),
            )
        )
    app = FastAPI(
        title="airflow-sc REST API",
        description="Airflow-compatible REST API v2 served by airflow-sc.",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        middleware=[
            *cache,
            Middleware(
                AdmitRequests,
                limit=ctx.settings.api.max_concurrent_requests,
                exempt_prefixes=(EXECUTION_API_PREFIX,),
            ),
            Middleware(
                RefuseWrites,
                refusal=write_refusal(ctx.shutdown, ctx.db.reachability),
                exempt_prefixes=(EXECUTION_API_PREFIX,),
            ),
            Middleware(
                GuardRequestInput,
                max_body_size=ctx.settings.api.max_request_body_size,
                max_json_depth=ctx.settings.api.max_request_json_depth,
                exempt_prefixes=(EXECUTION_API_PREFIX,),
            ),
        ],
    )
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    for router in ROUTERS:
        api.include_router(router)
    app.include_router(api)
    # Airflow serves the token endpoint outside /api/v2, with its own OpenAPI document.
    app.include_router(auth.router, include_in_schema=False)
    app.mount(EXECUTION_API_PREFIX, execution_app_for(ctx))
    app.state.ctx = ctx
    return app
