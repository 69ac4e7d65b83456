"""Bound the API's concurrent work, so that a crowd of clients never starves the scheduler.

Under `airflow-sc run` the API shares its event loop, its CPU and its database connections
with the scheduler. A hundred requests admitted at once would each take a turn of the loop
between two steps of a scheduler stage, and queue for the same connections before the
stage's transaction. So at most `api.max_concurrent_requests` requests are worked on at
once; the others wait their turn in arrival order (never a 503: a client under load gets a
slower answer, not an error). A request holds its turn until its response starts, so a
long-lived stream (a live UI view, a followed log) does not keep one.

The execution API (running tasks reporting) is exempt: it is the scheduler's own critical
path.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AdmitRequests"]


class AdmitRequests:
    """ASGI middleware: at most `limit` HTTP requests between admission and response start."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self.exempt_prefixes = exempt_prefixes
        # Created on first use: a semaphore belongs to the event loop that runs the app.
        self._turns: anyio.Semaphore | None = None

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet answered."""
        return 0 if self._turns is None else self.limit - self._turns.value

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn."""
        return 0 if self._turns is None else self._turns.statistics().tasks_waiting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self._turns is None:
            self._turns = anyio.Semaphore(self.limit, fast_acquire=True)
        turns = self._turns
        await turns.acquire()
        holding = True

        def release() -> None:
            nonlocal holding
            if holding:
                holding = False
                turns.release()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
