"""Serve an ASGI app with hypercorn inside the supervision tree, on both backends.

Cancelling hypercorn's serve directly drops in-flight requests (and on asyncio leaves its
tasks behind). Here the socket is bound before readiness is reported, hypercorn runs in a
shielded scope, and both a shutdown trigger and a cancellation of the caller turn into a
graceful drain bounded by `drain_timeout`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import sniffio
from anyio.abc import TaskStatus
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpEndpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, small responses wait on Nagle's
        # algorithm and a request costs ~40 ms instead of ~1 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_http(
    app: Any,
    *,
    host: str,
    port: int,
    drain_timeout: float,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[HttpEndpoint] = anyio.TASK_STATUS_IGNORED,
    sock: socket.socket | None = None,
) -> None:
    """Serve `app` until `shutdown_trigger()` returns or the caller is cancelled, then drain.

    `sock`: a listening socket bound already (by a supervising process), else `host:port`
    is bound here.
    """
    sock = bind_socket(host, port) if sock is None else sock
    bound_host, bound_port = sock.getsockname()[:2]
    endpoint = HttpEndpoint(bound_host, bound_port)
    config = Config()
    config.graceful_timeout = drain_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("airflow_sc.api.server")
    config.keep_alive_timeout = 5
    sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
    stop = anyio.Event()
    stopped = anyio.Event()
    server_scope = anyio.CancelScope(shield=True)

    async def run_server() -> None:
        try:
            with server_scope:
                await _worker_serve(wrap_app(app, 0, "asgi"), config, sockets, stop.wait)
        finally:
            sock.close()
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_server)
        log.info("API listening on %s", endpoint.url)
        task_status.started(endpoint)
        try:
            with anyio.CancelScope() as wait_scope:
                tg.start_soon(_cancel_when_stopped, stopped, wait_scope)
                await shutdown_trigger()
        finally:
            stop.set()
            with anyio.move_on_after(drain_timeout + 1, shield=True):
                await stopped.wait()
            server_scope.cancel()


async def _cancel_when_stopped(stopped: anyio.Event, scope: anyio.CancelScope) -> None:
    # If hypercorn exits by itself (e.g. lifespan failure), stop waiting for the trigger.
    await stopped.wait()
    scope.cancel()


async def _worker_serve(
    app: Any, config: Config, sockets: Sockets, shutdown_trigger: Callable[[], Awaitable[None]]
) -> None:
    if sniffio.current_async_library() == "trio":
        from hypercorn.trio.run import worker_serve as trio_serve

        await trio_serve(app, config, sockets=sockets, shutdown_trigger=shutdown_trigger)
    else:
        from hypercorn.asyncio.run import worker_serve as asyncio_serve

        await asyncio_serve(app, config, sockets=sockets, shutdown_trigger=shutdown_trigger)
