"""`serve_api`: the API server component of the supervision tree."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus
from starlette.types import ASGIApp

from airflow_sc.api.app import create_app
from airflow_sc.api.context import ApiContext, prepare_context
from airflow_sc.runtime import HttpEndpoint, serve_http


async def serve_api(
    ctx: ApiContext,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    app_factory: Callable[[ApiContext], ASGIApp] = create_app,
    task_status: TaskStatus[HttpEndpoint] = anyio.TASK_STATUS_IGNORED,
    sock: socket.socket | None = None,
) -> None:
    """Serve the API on `settings.api.host:port`; ready once the socket is bound.

    The token signing key and the secrets cipher are loaded (or created under
    `core.home`) before the socket is bound, so a bad key file fails the start.
    `app_factory` builds the app from the prepared context (the composition root passes
    the UI's `create_web_app`, which adds the web UI to the API). `sock`: a listening
    socket bound by the supervising `airflow-sc run` (`cli._api_process`) instead.
    """
    prepared = await prepare_context(ctx)
    settings = ctx.settings.api
    await serve_http(
        app_factory(prepared),
        host=settings.host,
        port=settings.port,
        drain_timeout=settings.drain_timeout,
        shutdown_trigger=shutdown_trigger,
        task_status=task_status,
        sock=sock,
    )
