"""Live pages: one server-sent-events stream per open DAG page, fed by the process's
`ChangeFeed` (`scheduler/changes/`), never by the browser polling.

The stream subscribes to the feed; a note about runs this page shows (or may show: a run
newer than the newest shown, or "too many runs to list") wakes it, and a burst of notes
costs one look at the database. The stream then sends the cells and runs whose state
changed since its last look. It ends when the client goes away or the server drains.

The stream also reads the health answer every `HEALTH_SECONDS` (`ui.health`) and sends a
``health`` event, ``{"unhealthy": [...]}``, first with the Grid and then whenever it
changed, so the page's banner follows an outage without a reload.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.types import Send

from airflow_sc.runtime import Shutdown
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.scheduler.changes.notes import Change, Note
from airflow_sc.ui.event_stream import EventStream
from airflow_sc.ui.grid import Grid, changed_cells
from airflow_sc.ui.health import HEALTH_SECONDS

__all__ = ["KEEPALIVE_SECONDS", "GridStream", "concerns_grid"]

#: A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0


def concerns_grid(note: Note, shown: frozenset[int], newest: int) -> bool:
    """Whether `note` may change a Grid showing the runs `shown` (newest pk `newest`)."""
    if note.run_pks is None or Change.ANY in note.changes:
        return True
    return any(pk in shown or pk > newest for pk in note.run_pks)


def _event(name: str, payload: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _snapshot(grid: Grid) -> bytes:
    payload = {
        "cells": [[run_id, task_id, state] for (run_id, task_id), state in grid.cells.items()],
        "runs": [[r.run_id, r.state] for r in grid.runs],
        "new_runs": False,
    }
    return _event("grid", payload)


class GridStream(EventStream):
    """An ASGI response: the changes of one DAG's Grid as server-sent events.

    `look()` reads the Grid as it is now. Each event `grid` carries
    `{"cells": [[run_id, task_id, state], ...], "runs": [[run_id, state], ...],
    "new_runs": bool}`: first the whole Grid, then what changed. `new_runs` (or a run the
    page does not show) tells the page to fetch the Grid again (its columns changed).
    """

    def __init__(
        self,
        look: Callable[[], Awaitable[Grid]],
        changes: ChangeFeed | None,
        shutdown: Shutdown,
        health: Callable[[], Awaitable[tuple[str, ...]]] | None = None,
        *,
        health_every: float = HEALTH_SECONDS,
    ) -> None:
        super().__init__(shutdown)
        self._look = look
        self._last = Grid([], [], {})
        self._changes = changes
        self._woken = anyio.Event()
        self._health = health
        self._health_every = health_every
        self._health_shown: tuple[str, ...] | None = None

    def _listen(self, note: Note) -> None:
        runs = self._last.runs
        shown = frozenset(r.pk for r in runs)
        if concerns_grid(note, shown, max(shown, default=0)):
            self._woken.set()

    async def _pump(self, send: Send) -> None:
        if self._changes is None:
            # Nothing announces changes in this app: the page stays as loaded.
            await send({"type": "http.response.body", "body": b": static\n\n", "more_body": True})
            await anyio.sleep_forever()
        assert self._changes is not None
        with self._changes.subscribe(self._listen):
            await send({"type": "http.response.body", "body": b": live\n\n", "more_body": True})
            # The page was rendered before this stream subscribed: the first event is the
            # whole Grid as it is now, read after subscribing, so nothing falls in between.
            self._last = await self._look()
            await send(
                {"type": "http.response.body", "body": _snapshot(self._last), "more_body": True}
            )
            if body := await self._health_event():
                await send({"type": "http.response.body", "body": body, "more_body": True})
            quiet_since = anyio.current_time()
            while True:
                with anyio.move_on_after(self._tick()) as idle:
                    await self._woken.wait()
                if idle.cancelled_caught:
                    body = await self._health_event()
                    if not body and anyio.current_time() - quiet_since >= KEEPALIVE_SECONDS:
                        body = b": keepalive\n\n"
                else:
                    self._woken = anyio.Event()
                    body = self._changed(await self._look())
                if body:
                    quiet_since = anyio.current_time()
                    await send({"type": "http.response.body", "body": body, "more_body": True})

    def _tick(self) -> float:
        if self._health is None:
            return KEEPALIVE_SECONDS
        return min(self._health_every, KEEPALIVE_SECONDS)

    async def _health_event(self) -> bytes:
        """A ``health`` event when what is unhealthy changed since the last one sent."""
        if self._health is None:
            return b""
        now = await self._health()
        if now == self._health_shown:
            return b""
        self._health_shown = now
        return _event("health", {"unhealthy": list(now)})

    def _changed(self, now: Grid) -> bytes:
        before = self._last
        self._last = now
        cells = changed_cells(before.cells, now.cells)
        old_runs = {r.run_id: r.state for r in before.runs}
        runs = [[r.run_id, r.state] for r in now.runs if old_runs.get(r.run_id) != r.state]
        new_runs = [r.run_id for r in now.runs] != [r.run_id for r in before.runs]
        new_runs = new_runs or now.task_ids != before.task_ids
        if not (cells or runs or new_runs):
            return b""
        payload = {
            "cells": [[run_id, task_id, state] for (run_id, task_id), state in cells.items()],
            "runs": runs,
            "new_runs": new_runs,
        }
        return _event("grid", payload)
