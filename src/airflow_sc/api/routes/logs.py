"""`.../taskInstances/{task_id}/logs/{try_number}`: a try's log, as one JSON page or followed
live as NDJSON (`Accept: application/x-ndjson`) until the try ends or the client leaves.

Logs are files under `settings.base_log_folder`:
`dag_id=<dag>/run_id=<run>/task_id=<task>[/map_index=<i>]/attempt=<n>.log`, one record per
line (a JSON object with at least `event`, or plain text). Files are read through
`anyio.open_file` (a worker thread), never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.lookups import ti_not_found
from airflow_sc.api.schemas.logs import StructuredLogMessage, TaskInstancesLogResponse
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.queries.api_task_instances import task_instance_state
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.task_runner.logs import try_log_path

__all__ = [
    "FOLLOW_INTERVAL",
    "NDJSON",
    "TryLog",
    "log_path",
    "parse_log_lines",
    "read_lines",
    "router",
]

router = APIRouter(tags=["Task Instance"])

NDJSON = "application/x-ndjson"
#: Seconds between looks at a followed log file (and the try's state) when nothing is new.
FOLLOW_INTERVAL = 0.2
#: Most bytes one JSON response (or one streamed read) takes from the file.
CHUNK_BYTES = 1 << 20
#: A try in one of these states may still write to its log.
LIVE_STATES = frozenset(
    {TaskInstanceState.QUEUED, TaskInstanceState.RUNNING, TaskInstanceState.DEFERRED}
)


def log_path(
    base: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> Path:
    """Where the task runner writes the log of one try."""
    return try_log_path(
        base,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        try_number=try_number,
        map_index=map_index,
    )


def parse_log_lines(data: bytes) -> list[dict[str, Any]]:
    """Log records from complete lines: JSON objects with `event` as they are, text as `event`."""
    records: list[dict[str, Any]] = []
    for raw in data.decode(errors="replace").splitlines():
        if not raw.strip():
            continue
        record: Any = None
        if raw.startswith("{"):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
        if not isinstance(record, dict) or not isinstance(record.get("event"), str):
            record = {"event": raw}
        records.append(record)
    return records


BAD_TOKEN = "Bad Signature. Please use only the tokens provided by the API."


def encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"log_pos": position}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))["log_pos"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise HTTPException(400, BAD_TOKEN) from None
    if not isinstance(position, int) or position < 0:
        raise HTTPException(400, BAD_TOKEN)
    return position


async def read_lines(path: Path, position: int, *, final: bool) -> tuple[bytes, int]:
    """Bytes of the complete lines after `position` (all bytes when `final`), and the new
    position. A missing file reads as empty."""
    try:
        async with await anyio.open_file(path, "rb") as file:
            await file.seek(position)
            data = await file.read(CHUNK_BYTES)
    except FileNotFoundError:
        return b"", position
    if not final or len(data) == CHUNK_BYTES:
        # A line still being written is left for the next read.
        data = data[: data.rfind(b"\n") + 1]
    return data, position + len(data)


@dataclass(frozen=True, slots=True)
class TryLog:
    """The log of one try: its file, whether the try may still write, and following it
    (the API's NDJSON follow and the UI's log stream both read through this)."""

    ctx: ApiContext
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    @property
    def path(self) -> Path:
        return log_path(
            self.ctx.settings.base_log_folder,
            self.dag_id,
            self.run_id,
            self.task_id,
            self.map_index,
            self.try_number,
        )

    async def is_live(self) -> bool:
        """Whether the try may still write (the TI is on this try, in a live state)."""
        found = await task_instance_state(
            self.ctx.db, self.dag_id, self.run_id, self.task_id, self.map_index
        )
        if found is None:
            return False
        state, current_try = found
        return current_try == self.try_number and state in LIVE_STATES

    async def chunks(self, position: int) -> AsyncGenerator[tuple[list[dict[str, Any]], int], None]:
        """The log's records from `position` on, in chunks, each with the position after
        it, until the try ends (cancelled when the reader leaves)."""
        while True:
            # Read the state first: once it is final, the runner has written every line,
            # so the read after it is complete.
            live = await self.is_live()
            data, position = await read_lines(self.path, position, final=not live)
            records = parse_log_lines(data)
            if records:
                yield records, position
            if not live and len(data) < CHUNK_BYTES:
                return
            if not data:
                await anyio.sleep(FOLLOW_INTERVAL)

    async def follow(self, position: int) -> AsyncIterator[bytes]:
        """NDJSON lines of the log from `position` until the try ends."""
        async with contextlib.aclosing(self.chunks(position)) as chunks:
            async for records, _ in chunks:
                yield "".join(json.dumps(r, default=str) + "\n" for r in records).encode()


def _accepts_ndjson(accept: str) -> bool:
    kinds = [part.split(";")[0].strip() for part in accept.split(",")]
    return NDJSON in kinds and "application/json" not in kinds[: kinds.index(NDJSON)]


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
    dependencies=[Depends(requires(Permission.DAG_READ))],
    response_model=TaskInstancesLogResponse,
    responses={
        **error_responses(400, 404),
        200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
    },
    summary="Get Log",
    operation_id="get_log",
)
async def get_log(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: int,
    ctx: Ctx,
    full_content: bool = False,
    map_index: Annotated[int, Query(ge=-1)] = -1,
    token: str | None = None,
    accept: Annotated[str, Header()] = "*/*",
) -> Response | TaskInstancesLogResponse:
    """JSON: the log from `token` on (one chunk) and a `continuation_token` while the try
    may write more. NDJSON: one record per line, following the file until the try ends."""
    found = await task_instance_state(ctx.db, dag_id, dag_run_id, task_id, map_index)
    if found is None:
        raise ti_not_found(dag_id, dag_run_id, task_id, map_index)
    if try_number < 1 or try_number > max(found[1], 1):
        raise HTTPException(404, f"Try number {try_number} of this task instance does not exist")
    attempt = TryLog(ctx, dag_id, dag_run_id, task_id, map_index, try_number)
    position = 0 if full_content else decode_token(token)
    if _accepts_ndjson(accept):
        return StreamingResponse(attempt.follow(position), media_type=NDJSON)
    live = await attempt.is_live()
    data, end = await read_lines(attempt.path, position, final=not live)
    content = [StructuredLogMessage.model_validate(r) for r in parse_log_lines(data)]
    more = live or len(data) == CHUNK_BYTES
    return TaskInstancesLogResponse(
        content=content, continuation_token=encode_token(end) if more else None
    )
