"""`EventStream`: the ASGI plumbing of the UI's server-sent-event responses.

A subclass writes its events in `_pump(send)`; the stream ends when `_pump` returns, when
the client leaves, or when the server starts draining, and the body is then closed.
"""

from __future__ import annotations

import contextlib

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from airflow_sc.runtime import Shutdown
from airflow_sc.ui.rendering import SECURITY_HEADERS

__all__ = ["EventStream"]


class EventStream(Response):
    """A `text/event-stream` response whose events `_pump` writes (see the module doc)."""

    def __init__(self, shutdown: Shutdown) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self._shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            **SECURITY_HEADERS,
            "Content-Type": "text/event-stream; charset=utf-8",
            "X-Accel-Buffering": "no",
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        async with anyio.create_task_group() as tg:

            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            async def until_drain() -> None:
                await self._shutdown.wait_drain()
                tg.cancel_scope.cancel()

            tg.start_soon(until_disconnect)
            tg.start_soon(until_drain)
            await self._pump(send)
            tg.cancel_scope.cancel()
        # OSError: the client is gone already.
        with anyio.move_on_after(1, shield=True), contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> None:
        raise NotImplementedError
