"""`ExecutionApiClient`: a `TaskClient` over the execution API, holding one try's token.

This is what a worker process uses: it has no database URL, only the API's base URL and a
token scoped to its try. Calls are sync (task code is sync). Secrets read through it are
added to the process's `SecretsMasker`, so they are masked in the try's log.

A call the server answers 503, or that never reached it, is sent again after a capped
backoff (honouring ``Retry-After``) for up to `retry_for` seconds from its first attempt
(`call_retry.py` says which calls and how long), so a restart of the API server or an
outage of its database does not fail the try.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome, finish_args
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.masking import SecretsMasker
from airflow_sc.task_runner.call_retry import Failure, next_delay

log = logging.getLogger(__name__)

#: Errors of a request that never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Errors of a request that may have reached it, with no answer.
_MAYBE_SENT = (httpx.ReadTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)

__all__ = [
    "ExecutionApiClient",
    "ExecutionApiError",
    "TryNoLongerRunning",
    "default_ssl_context",
]


class ExecutionApiError(Exception):
    """The execution API refused a call (status and detail in the message)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"execution API answered {status}: {detail}")
        self.status = status


class TryNoLongerRunning(ExecutionApiError):
    """409: the task instance no longer holds this try in the state the call needs."""


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One TLS context per process (building one costs milliseconds: a forked child
    inherits the worker's)."""
    return ssl.create_default_context()


def _segment(text: str) -> str:
    return quote(text, safe="")


class ExecutionApiClient:
    """The execution API as one try sees it (also the try's `TaskClient`)."""

    def __init__(
        self,
        base_url: str,
        *,
        ti_id: str,
        token: str,
        masker: SecretsMasker | None = None,
        transport: httpx.BaseTransport | None = None,
        retry_for: float = 60.0,
    ) -> None:
        self.ti_id = ti_id
        self.retry_for = retry_for
        self._token = token
        self._lock = threading.Lock()  # the heartbeat thread refreshes the token
        self._masker = masker
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=30,
            verify=default_ssl_context(),
        )
        self._context: TryContext | None = None

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        first = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            error: httpx.TransportError | None = None
            with self._lock:
                token = self._token  # the heartbeat thread may have refreshed it
            try:
                response = self._http.request(
                    method, path, headers={"authorization": f"Bearer {token}"}, **kwargs
                )
            except _NOT_SENT as exc:
                error, failure = exc, Failure(method, not_sent=True)
            except _MAYBE_SENT as exc:
                error, failure = exc, Failure(method, maybe_sent=True)
            else:
                if response.status_code != 503:
                    break
                failure = Failure(method, 503, response.headers.get("retry-after"))
            delay = next_delay(
                failure,
                attempt,
                elapsed=time.monotonic() - first,
                window=self.retry_for,
                jitter=random.random(),
                now=datetime.now(UTC),
            )
            if delay is None:
                if error is not None:
                    raise error
                break  # the 503 is the answer
            why = f"{error!r}" if error is not None else "503 Service Unavailable"
            log.warning(
                "The execution API did not answer %s %s (%s); trying again in %.1fs",
                method,
                path,
                why,
                delay,
            )
            time.sleep(delay)
        if response.status_code >= 400 and response.status_code != 404:
            try:
                detail = str(response.json().get("detail"))
            except ValueError:
                detail = response.text
            refusal = TryNoLongerRunning if response.status_code == 409 else ExecutionApiError
            raise refusal(response.status_code, detail)
        return response

    @property
    def _ti(self) -> str:
        return f"/task-instances/{_segment(self.ti_id)}"

    # -- the try's lifecycle ---------------------------------------------------------------

    def start(self) -> TryContext:
        """QUEUED -> RUNNING; raises `TryNoLongerRunning` when the try is not queued."""
        body = {"hostname": socket.gethostname(), "pid": os.getpid()}
        response = self._call("PATCH", f"{self._ti}/run", json=body)
        self._context = TryContext.from_json(response.json())
        return self._context

    def heartbeat(self) -> None:
        """Report liveness and take the refreshed token; `TryNoLongerRunning` means stop."""
        response = self._call("PUT", f"{self._ti}/heartbeat")
        with self._lock:
            self._token = str(response.json()["token"])

    def finish(
        self,
        state: TaskInstanceState,
        *,
        skip: Iterable[str] = (),
        retry_delay: float | None = None,
    ) -> None:
        body = finish_args(state, skip, retry_delay)
        self._call("PATCH", f"{self._ti}/state", json=body)

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
        params: dict[str, Any] = {"map_index": map_index}
        if dag_id is not None:
            params["dag_id"] = dag_id
        if run_id is not None:
            params["run_id"] = run_id
        if include_prior_dates:
            params["include_prior_dates"] = "true"
        response = self._call(
            "GET", f"{self._ti}/xcoms/{_segment(task_id)}/{_segment(key)}", params=params
        )
        return None if response.status_code == 404 else response.json()["value"]

    def xcom_push(self, key: str, value: Any) -> None:
        if self._context is None:
            raise RuntimeError("xcom_push before the try started")
        path = f"{self._ti}/xcoms/{_segment(self._context.task_id)}/{_segment(key)}"
        self._call("POST", path, json={"value": value})

    def get_variable(self, key: str) -> str | None:
        response = self._call("GET", f"/variables/{_segment(key)}")
        if response.status_code == 404:
            return None
        value = str(response.json()["value"])
        if self._masker is not None:
            self._masker.add_variable(key, value)
        return value

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        if self._masker is not None:
            self._masker.add_variable(key, value)
        body = {"value": value, "description": description}
        self._call("PUT", f"/variables/{_segment(key)}", json=body)

    def delete_variable(self, key: str) -> bool:
        response = self._call("DELETE", f"/variables/{_segment(key)}")
        return response.status_code != 404

    def get_connection(self, conn_id: str) -> Connection | None:
        response = self._call("GET", f"/connections/{_segment(conn_id)}")
        if response.status_code == 404:
            return None
        conn = Connection.from_dict(conn_id, response.json())
        if self._masker is not None:
            self._masker.add_connection(conn)
        return conn

    # -- DAG runs (TriggerDagRunOperator) ---------------------------------------------------

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        body = request.to_wire()
        path = f"/dag-runs/{_segment(body.pop('dag_id'))}/{_segment(body.pop('run_id'))}"
        response = self._call("POST", path, json=body)
        if response.status_code == 404:
            raise ExecutionApiError(404, str(response.json().get("detail")))
        return TriggerOutcome(response.json()["outcome"])

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        response = self._call("GET", f"/dag-runs/{_segment(dag_id)}/{_segment(run_id)}/state")
        return None if response.status_code == 404 else str(response.json()["state"])
