"""The local channel: a task process's execution-API calls over a socket to its worker.

With ``executor.local_channel = "pipe"`` (the default) a forked task process does not
speak HTTP: it writes each execution-API operation as one JSON line on a socket shared
with its worker, the worker relays it to the executor, and the executor runs it through
the same `ExecutionHandlers` as the HTTP routes, after the same token checks
(``_channel_server.py``). The task process still holds no database URL, only its try's
token, and every call carries that token.

Wire format, one JSON object per line:

- request ``{"id": n, "op": "start", "token": "...", "args": {...}}``
- answer ``{"id": n, "status": 200, "value": ...}`` or ``{"id": n, "status": 409,
  "detail": "..."}``; the statuses mean what they mean in the HTTP API (401 bad token,
  403 another try's token, 404 nothing there, 409 the try is no longer in the right state).

``finish`` is the one call without an answer: the task process sends it and goes on to
report and exit, and the executor commits it (batched with other tries' finishes) before
it tells the scheduler; a finish it cannot record is noted in the try's log.

`ChannelClient` is the task process's side: the same methods and errors as
`ExecutionApiClient`, so the task runner does not care which one it holds.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome, finish_args
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.masking import SecretsMasker
from airflow_sc.task_runner.http_client import ExecutionApiError, TryNoLongerRunning

__all__ = ["ChannelClient", "decode_lines", "encode"]

_MAX_LINE = 64 * 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of the channel."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines in `buffer`, and what is left of it."""
    *lines, rest = buffer.split(b"\n")
    return [line for line in lines if line.strip()], rest


class ChannelClient:
    """The execution API as one try sees it, over the socket `fd` to its worker.

    Its worker sends the try's heartbeats (`sends_heartbeats`), so the task runner starts
    no heartbeat thread for it.
    """

    #: The worker heartbeats for this process (see ``_worker.py``).
    sends_heartbeats = False

    def __init__(
        self, fd: int, *, ti_id: str, token: str, masker: SecretsMasker | None = None
    ) -> None:
        self.ti_id = ti_id
        self._token = token
        self._masker = masker
        self._sock = socket.socket(fileno=fd)
        self._buffer = b""
        self._next_id = 0
        # One call at a time: the heartbeat thread shares the socket with the task.
        self._lock = threading.Lock()
        self._context: TryContext | None = None

    def close(self) -> None:
        self._sock.close()

    def _send(self, op: str, args: dict[str, Any]) -> int:
        self._next_id += 1
        request = {"id": self._next_id, "op": op, "token": self._token, "args": args}
        self._sock.sendall(encode(request))
        return self._next_id

    def _call(self, op: str, **args: Any) -> Any:
        """The operation's value; None for a 404; raises for the other refusals."""
        with self._lock:
            call_id = self._send(op, args)
            answer = self._receive(call_id)
            status = int(answer.get("status", 500))
            if op == "heartbeat" and status == 200:
                self._token = str(answer["value"]["token"])
        if status == 404:
            return None
        if status >= 400:
            error = TryNoLongerRunning if status == 409 else ExecutionApiError
            raise error(status, str(answer.get("detail")))
        return answer.get("value")

    def _receive(self, call_id: int) -> dict[str, Any]:
        while True:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                answer: dict[str, Any] = json.loads(line)
                if answer.get("id") == call_id:
                    return answer
                continue  # an answer to a call that was interrupted (SIGTERM): stale
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise ExecutionApiError(503, "the worker closed the channel")
            self._buffer += chunk
            if len(self._buffer) > _MAX_LINE:
                raise ExecutionApiError(502, "answer too large")

    # -- the try's lifecycle ---------------------------------------------------------------

    def start(self) -> TryContext:
        """QUEUED -> RUNNING; raises `TryNoLongerRunning` when the try is not queued."""
        value = self._call("start", hostname=socket.gethostname(), pid=os.getpid())
        self._context = TryContext.from_json(value)
        return self._context

    def heartbeat(self) -> None:
        """Report liveness (and take a fresh token); `TryNoLongerRunning` means stop."""
        self._call("heartbeat")

    def finish(
        self,
        state: TaskInstanceState,
        *,
        skip: Iterable[str] = (),
        retry_delay: float | None = None,
    ) -> None:
        """Hand the try's state to the executor, which records it (no answer to wait for)."""
        with self._lock:
            self._send("finish", finish_args(state, skip, retry_delay))

    # -- TaskClient -------------------------------------------------------------------------

    def xcom_pull(
        self,
        task_id: str,
        key: str,
        map_index: int = -1,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        include_prior_dates: bool = False,
    ) -> Any:
        elsewhere: dict[str, Any] = {}
        if dag_id is not None:
            elsewhere["dag_id"] = dag_id
        if run_id is not None:
            elsewhere["run_id"] = run_id
        if include_prior_dates:
            elsewhere["include_prior_dates"] = True
        return self._call("xcom_pull", task_id=task_id, key=key, map_index=map_index, **elsewhere)

    def xcom_push(self, key: str, value: Any) -> None:
        if self._context is None:
            raise RuntimeError("xcom_push before the try started")
        self._call("xcom_push", key=key, value=value)

    def get_variable(self, key: str) -> str | None:
        value = self._call("get_variable", key=key)
        if value is None:
            return None
        if self._masker is not None:
            self._masker.add_variable(key, str(value))
        return str(value)

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        if self._masker is not None:
            self._masker.add_variable(key, value)
        self._call("set_variable", key=key, value=value, description=description)

    def delete_variable(self, key: str) -> bool:
        return bool(self._call("delete_variable", key=key))

    def get_connection(self, conn_id: str) -> Connection | None:
        value = self._call("get_connection", conn_id=conn_id)
        if value is None:
            return None
        conn = Connection.from_dict(conn_id, value)
        if self._masker is not None:
            self._masker.add_connection(conn)
        return conn

    # -- DAG runs (TriggerDagRunOperator) ---------------------------------------------------

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        # A 404 here means the DAG does not exist: a refusal, not an absent value.
        with self._lock:
            call_id = self._send("trigger_dag_run", request.to_wire())
            answer = self._receive(call_id)
        status = int(answer.get("status", 500))
        if status >= 400:
            raise ExecutionApiError(status, str(answer.get("detail")))
        return TriggerOutcome(answer["value"])

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        value = self._call("get_dag_run_state", dag_id=dag_id, run_id=run_id)
        return None if value is None else str(value)
