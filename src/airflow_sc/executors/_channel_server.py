"""The executor's side of the local channel: a task process's call -> `ExecutionDispatcher`.

A thin transport: `ChannelServer.answer(running_ti, request)` hands the request's
operation, token and arguments to the dispatcher, as the HTTP routes do, with the try the
calling worker runs as the try every call must act for, and turns the answer (or the
refusal) into the line sent back. Starts and finishes of many tries arriving together are
batched by the execution service into one transaction each; a try's state is committed
before its process gets the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow_sc.execution.context import TryContext
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.errors import ExecutionError
from airflow_sc.execution.protocol import Operation, operation

__all__ = ["ChannelServer"]

log = logging.getLogger(__name__)


class ChannelServer:
    """Answers the local channel's calls with `dispatcher`."""

    def __init__(self, dispatcher: ExecutionDispatcher) -> None:
        self.dispatcher = dispatcher

    async def answer(self, running_ti: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request from the process running try `running_ti`."""
        call_id = request.get("id")
        try:
            op = operation(request.get("op"))
            token = request.get("token")
            value = await self.dispatcher.call(
                op,
                token if isinstance(token, str) else None,
                request.get("args") or {},
                acting_try=running_ti,
            )
        except ExecutionError as exc:
            return {"id": call_id, "status": exc.status, "detail": exc.detail}
        except Exception as exc:
            log.exception("The local channel's %r call failed", request.get("op"))
            return {"id": call_id, "status": 500, "detail": f"{type(exc).__name__}: {exc}"}
        return {"id": call_id, "status": 200, "value": _wire(op, value)}


def _wire(op: Operation, value: Any) -> Any:
    """An answer as the channel's client reads it."""
    if isinstance(value, TryContext):
        return value.to_json()
    if op is Operation.HEARTBEAT:
        return {"token": value}
    if op is Operation.DELETE_VARIABLE:
        return True
    return value
