"""The executor's side of the local channel: a task process's call -> `ExecutionHandlers`.

`ChannelServer.answer(running_ti, request)` checks the call the way the HTTP routes do
(the token must be valid and, for a try's own operations, scoped to the try the calling
worker runs), runs it through the handlers and returns the answer to send back. Starts
and finishes of many tries arriving together are coalesced into one transaction each
(`Coalescer`); a try's state is committed before its process gets the answer.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_sc.api.execution.handlers import ExecutionHandlers, TryConflict, TryNotFound
from airflow_sc.api.execution.tokens import TokenError, TokenExpired
from airflow_sc.db.queries.execution import FINISH_STATES, FinishedTry, FinishSpec
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.executors._batching import Coalescer
from airflow_sc.task_runner.try_context import TryContext

__all__ = ["ChannelServer"]

log = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Start:
    ti_id: str
    hostname: str
    pid: int


Op = Callable[["ChannelServer", str, dict[str, Any]], Awaitable[Any]]


class ChannelServer:
    """Answers the local channel's calls with `handlers`.

    `verify_token(token)` -> the try id it is scoped to (raising `TokenError`), and
    `issue_token(ti_id)` signs the fresh token a heartbeat hands back, as in the HTTP API.
    """

    def __init__(
        self,
        handlers: ExecutionHandlers,
        *,
        verify_token: Callable[[str], str],
        issue_token: Callable[[str], str],
    ) -> None:
        self.handlers = handlers
        self.verify_token = verify_token
        self.issue_token = issue_token
        self._hostname = socket.gethostname()
        self._starts: Coalescer[_Start, TryContext | None] = Coalescer(self._start_many)
        self._finishes: Coalescer[FinishSpec, FinishedTry | None] = Coalescer(handlers.finish_many)

    async def answer(self, running_ti: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request from the process running try `running_ti`."""
        call_id = request.get("id")
        try:
            op = _OPS.get(str(request.get("op")))
            if op is None:
                raise _Refused(400, f"unknown operation {request.get('op')!r}")
            token = request.get("token")
            if not isinstance(token, str) or not token:
                raise _Refused(401, "missing token")
            token_ti = self._verify(token)
            if token_ti != running_ti:
                raise _Refused(403, "the token belongs to another task instance try")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise _Refused(400, "args must be an object")
            value = await op(self, token_ti, args)
        except _Refused as exc:
            return {"id": call_id, "status": exc.status, "detail": exc.detail}
        except TryConflict as exc:
            return {"id": call_id, "status": 409, "detail": str(exc)}
        except TryNotFound as exc:
            return {"id": call_id, "status": 404, "detail": f"no task instance try {exc}"}
        except Exception as exc:
            log.exception("The local channel's %r call failed", request.get("op"))
            return {"id": call_id, "status": 500, "detail": f"{type(exc).__name__}: {exc}"}
        if value is _NOT_FOUND:
            return {"id": call_id, "status": 404, "detail": "not found"}
        return {"id": call_id, "status": 200, "value": value}

    def _verify(self, token: str) -> str:
        try:
            return self.verify_token(token)
        except TokenExpired as exc:
            raise _Refused(401, "token expired") from exc
        except TokenError as exc:
            raise _Refused(401, "invalid token") from exc

    async def _start_many(self, starts: Sequence[_Start]) -> list[TryContext | None]:
        by_host: dict[str, list[_Start]] = {}
        for start in starts:
            by_host.setdefault(start.hostname, []).append(start)
        contexts: dict[str, TryContext | None] = {}
        for hostname, group in by_host.items():
            ids = [start.ti_id for start in group]
            found = await self.handlers.start_many(
                ids, hostname=hostname, pid=group[0].pid, pids={s.ti_id: s.pid for s in group}
            )
            contexts.update(zip(ids, found, strict=True))
        return [contexts[start.ti_id] for start in starts]

    # -- the operations ----------------------------------------------------------------------

    async def start(self, ti_id: str, args: dict[str, Any]) -> Any:
        try:
            start = _Start(ti_id, str(args.get("hostname") or self._hostname), int(args["pid"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _Refused(400, "hostname and pid are required") from exc
        context = await self._starts.call(start)
        if context is None:
            raise TryConflict(f"task instance try {ti_id} is not queued")
        return context.to_json()

    async def heartbeat(self, ti_id: str, args: dict[str, Any]) -> Any:
        await self.handlers.heartbeat(ti_id)
        return {"token": self.issue_token(ti_id)}

    async def finish(self, ti_id: str, args: dict[str, Any]) -> Any:
        try:
            state = TaskInstanceState(str(args.get("state")))
        except ValueError as exc:
            raise _Refused(400, f"unknown state {args.get('state')!r}") from exc
        if state not in FINISH_STATES:
            raise _Refused(400, f"a try cannot finish in state {state.value!r}")
        skip = args.get("skip") or []
        if not isinstance(skip, list) or not all(isinstance(t, str) for t in skip):
            raise _Refused(400, "skip must be a list of task ids")
        if await self._finishes.call(FinishSpec(ti_id, state, tuple(skip))) is None:
            raise TryConflict(f"task instance try {ti_id} is not running")
        return None

    async def xcom_pull(self, ti_id: str, args: dict[str, Any]) -> Any:
        try:
            task_id, key = str(args["task_id"]), str(args["key"])
            map_index = int(args.get("map_index", -1))
        except (KeyError, TypeError, ValueError) as exc:
            raise _Refused(400, "task_id, key and an integer map_index are required") from exc
        value = await self.handlers.get_xcom(ti_id, task_id=task_id, key=key, map_index=map_index)
        return _NOT_FOUND if value is None else value

    async def xcom_push(self, ti_id: str, args: dict[str, Any]) -> Any:
        if "key" not in args or "value" not in args:
            raise _Refused(400, "key and value are required")
        await self.handlers.set_xcom(ti_id, key=str(args["key"]), value=args["value"])
        return None

    async def get_variable(self, ti_id: str, args: dict[str, Any]) -> Any:
        value = await self.handlers.get_variable(str(args.get("key")))
        return _NOT_FOUND if value is None else value

    async def set_variable(self, ti_id: str, args: dict[str, Any]) -> Any:
        value, description = args.get("value"), args.get("description")
        if not isinstance(value, str):
            raise _Refused(400, "value is required and must be a string")
        if description is not None and not isinstance(description, str):
            raise _Refused(400, "description must be a string")
        write = getattr(self.handlers, "set_variable", None)
        if write is None:
            raise _Refused(400, "this deployment cannot write variables")
        await write(str(args.get("key")), value, description=description)
        return None

    async def delete_variable(self, ti_id: str, args: dict[str, Any]) -> Any:
        delete = getattr(self.handlers, "delete_variable", None)
        if delete is None:
            raise _Refused(400, "this deployment cannot delete variables")
        return True if await delete(str(args.get("key"))) else _NOT_FOUND

    async def get_connection(self, ti_id: str, args: dict[str, Any]) -> Any:
        conn = await self.handlers.get_connection(str(args.get("conn_id")))
        return _NOT_FOUND if conn is None else conn


_NOT_FOUND = object()

#: Operation name -> method. Every one is checked against the calling try's token first.
_OPS: dict[str, Op] = {
    name: getattr(ChannelServer, name)
    for name in (
        "start",
        "heartbeat",
        "finish",
        "xcom_pull",
        "xcom_push",
        "get_variable",
        "set_variable",
        "delete_variable",
        "get_connection",
    )
}
