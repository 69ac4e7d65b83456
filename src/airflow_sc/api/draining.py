"""Refuse writes with 503 + `Retry-After` while a drain runs or the database is out of reach."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from airflow_sc.api.errors import RETRY_AFTER_SECONDS
from airflow_sc.db.reachability import Reachability
from airflow_sc.runtime import Shutdown

__all__ = ["PROBE_INTERVAL", "READ_METHODS", "RefuseWrites", "write_refusal"]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Seconds after the latest connection failure during which writes are refused unread.
PROBE_INTERVAL = 2.0


def write_refusal(shutdown: Shutdown, reachability: Reachability) -> Callable[[], str | None]:
    """Why writes are refused right now, or None: a graceful drain has started, or the
    metadata database refused a connection in the last `PROBE_INTERVAL` seconds (a read
    still tries, and answers 503 itself when the database does not answer; past that
    interval a write tries too, so an API alone in its process notices the recovery)."""

    def refusal() -> str | None:
        if shutdown.draining:
            return "airflow-sc is shutting down; retry later"
        if reachability.failed_within(PROBE_INTERVAL, anyio.current_time()):
            return "the metadata database is unreachable; retry later"
        return None

    return refusal


class RefuseWrites:
    """While `refusal()` gives a reason, writes get 503 + Retry-After; reads go through.

    Paths under `exempt_prefixes` (the execution API that running tasks report to) keep
    accepting writes: a drain exists so that those tasks can finish, and during an outage
    their calls wait for the database like the executors' own.
    """

    def __init__(
        self,
        app: ASGIApp,
        refusal: Callable[[], str | None],
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.refusal = refusal
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = (
            self.refusal()
            if scope["type"] == "http"
            and scope["method"] not in READ_METHODS
            and not scope["path"].startswith(self.exempt_prefixes)
            else None
        )
        if reason is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": reason}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
