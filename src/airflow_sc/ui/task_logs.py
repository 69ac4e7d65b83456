"""A try's log in the UI: its own page, a download, and a live stream while the try runs.

- `/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log?try_number=N`: the page (the task
  instance panel shows the same log view).
- `.../log/download?try_number=N`: the whole log as a text file.
- `.../log/events?try_number=N&position=P`: server-sent events, the lines written after
  byte `P` (`Last-Event-ID` when the browser reconnects), until the try ends.

Everything is read through the API's log service (`api.routes.logs.TryLog`): the same
files, the same records, and so the same masking (the task runner masks secrets when it
writes the log). Lines reach the page as text (escaped by the template, or set with
`textContent`), never as HTML.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Header, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from airflow_sc.api.context import ApiContext
from airflow_sc.api.routes.logs import (
    LIVE_STATES,
    TryLog,
    parse_log_lines,
    read_lines,
)
from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_task_instances
from airflow_sc.db.queries.api_task_instances import task_instance_state
from airflow_sc.runtime import Shutdown
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.event_stream import EventStream
from airflow_sc.ui.rendering import render, with_security_headers
from airflow_sc.ui.session import Session

__all__ = ["LogView", "load_log_view", "log_line", "log_url", "router"]

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)


def log_line(record: Mapping[str, Any]) -> str:
    """One record as the UI shows it: timestamp, level, message (what the record has)."""
    parts = [str(record.get("timestamp", "")), str(record.get("level", "")), str(record["event"])]
    return " ".join(part for part in parts if part)


def log_url(dag_id: str, run_id: str, task_id: str, suffix: str = "") -> str:
    return (
        f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
        f"/tasks/{quote(task_id, safe='')}/log{suffix}"
    )


@dataclass(frozen=True, slots=True)
class LogView:
    """A try's log as a page shows it first: the lines on disk, and whether (and from
    which byte) the page streams what comes after."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    lines: list[str]
    #: Byte position after `lines`; the stream continues from there.
    position: int
    #: The try may still write, or the file holds more than one read: stream the rest.
    more: bool

    def url(self, suffix: str = "") -> str:
        return log_url(self.dag_id, self.run_id, self.task_id, suffix)


async def load_log_view(
    ctx: ApiContext, dag_id: str, tries: list[api_task_instances.TaskInstanceTryRow], chosen: int
) -> LogView:
    """The log of try `chosen` among `tries` (the task instance's, oldest first; the last
    one is the current try, whose state says whether it may still write)."""
    current = tries[-1]
    live = chosen == current.try_number and current.state in LIVE_STATES
    attempt = TryLog(ctx, dag_id, current.run_id, current.task_id, -1, chosen)
    data, position = await read_lines(attempt.path, 0, final=not live)
    # One read takes at most CHUNK_BYTES: a longer log's rest comes through the stream.
    truncated = not live and len(data) > 0 and await _size(attempt) > position
    lines = [log_line(r) for r in parse_log_lines(data)]
    return LogView(
        dag_id, current.run_id, current.task_id, chosen, lines, position, live or truncated
    )


async def _size(attempt: TryLog) -> int:
    try:
        return (await anyio.Path(attempt.path).stat()).st_size
    except OSError:
        return 0


def _missing(session: Session, what: str) -> Response:
    return render(
        "message.html",
        {"session": session, "title": "Not found", "message": what},
        status_code=404,
    )


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log")
async def log_page(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: Annotated[Session, Depends(_READ)],
    try_number: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    ctx = context_of(request)
    tries = await api_task_instances.list_task_instance_tries(ctx.db, dag_id, run_id, task_id)
    if not tries:
        return _missing(session, f"No task instance {task_id!r} in run {run_id!r} of {dag_id!r}.")
    numbers = [t.try_number for t in tries]
    chosen = try_number if try_number in numbers else numbers[-1]
    log = await load_log_view(ctx, dag_id, tries, chosen)
    return render(
        "task_log.html",
        {"session": session, "dag_id": dag_id, "tries": tries, "log": log},
    )


async def _existing_try(
    ctx: ApiContext, dag_id: str, run_id: str, task_id: str, try_number: int
) -> TryLog | None:
    found = await task_instance_state(ctx.db, dag_id, run_id, task_id, -1)
    if found is None or try_number < 1 or try_number > max(found[1], 1):
        return None
    return TryLog(ctx, dag_id, run_id, task_id, -1, try_number)


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log/download")
async def log_download(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: Annotated[Session, Depends(_READ)],
    try_number: Annotated[int, Query(ge=1)],
) -> Response:
    ctx = context_of(request)
    attempt = await _existing_try(ctx, dag_id, run_id, task_id, try_number)
    if attempt is None:
        return _missing(session, f"No try {try_number} of {task_id!r} in run {run_id!r}.")

    async def body() -> AsyncIterator[bytes]:
        position = 0
        while True:
            data, position = await read_lines(attempt.path, position, final=True)
            if not data:
                return
            yield "".join(log_line(r) + "\n" for r in parse_log_lines(data)).encode()

    name = f"{dag_id}__{run_id}__{task_id}__{try_number}.log"
    ascii_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    response = StreamingResponse(
        body(),
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='')}"
        },
    )
    return with_security_headers(response)


def _lines_event(lines: list[str], position: int) -> bytes:
    data = json.dumps(lines, separators=(",", ":"))
    return f"id: {position}\nevent: lines\ndata: {data}\n\n".encode()


class LogStream(EventStream):
    """An ASGI response: a try's new log lines as server-sent events (`lines`, with the
    byte position as the event id), then `end` once the try has ended and every line was
    sent. It also ends when the client leaves or the server drains."""

    def __init__(self, attempt: TryLog, position: int, shutdown: Shutdown) -> None:
        super().__init__(shutdown)
        self._attempt = attempt
        self._position = position

    async def _pump(self, send: Send) -> None:
        # The browser must not reconnect and retry forever after the end: `end` says so.
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        async with contextlib.aclosing(self._attempt.chunks(self._position)) as chunks:
            async for records, position in chunks:
                body = _lines_event([log_line(r) for r in records], position)
                await send({"type": "http.response.body", "body": body, "more_body": True})
        await send(
            {"type": "http.response.body", "body": b"event: end\ndata: {}\n\n", "more_body": True}
        )


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log/events")
async def log_events(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: Annotated[Session, Depends(_READ)],
    try_number: Annotated[int, Query(ge=1)],
    position: Annotated[int, Query(ge=0)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    ctx = context_of(request)
    attempt = await _existing_try(ctx, dag_id, run_id, task_id, try_number)
    if attempt is None:
        return _missing(session, f"No try {try_number} of {task_id!r} in run {run_id!r}.")
    if last_event_id is not None and last_event_id.isdigit():
        # A reconnecting browser continues after the last lines it received.
        position = int(last_event_id)
    return LogStream(attempt, position, ctx.shutdown)
