"""Refuse writes with 503 once a graceful drain has started."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from airflow_sc.runtime import Shutdown

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RefuseWritesWhileDraining:
    """While draining, reads still work (health, logs) and writes get 503 + Retry-After.

    Paths under `exempt_prefixes` (the execution API that running tasks report to) keep
    accepting writes: the drain exists so that those tasks can finish.
    """

    def __init__(
        self, app: ASGIApp, shutdown: Shutdown, exempt_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.shutdown = shutdown
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.shutdown.draining
            and scope["method"] not in READ_METHODS
            and not scope["path"].startswith(self.exempt_prefixes)
        ):
            body = json.dumps({"detail": "airflow-sc is shutting down; retry later"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"5"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
