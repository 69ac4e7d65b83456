"""The execution protocol over HTTP: a Starlette app mounted at ``/execution``.

A thin transport: each route turns its path, query and JSON body into one operation's raw
arguments and hands them to the `ExecutionDispatcher` (token -> arguments -> service), then
renders the answer. Routes (all JSON, all with ``Authorization: Bearer <try token>``):

- ``PATCH /task-instances/{ti_id}/run`` `{hostname, pid, unixname}` -> 200 the try's
  context; 409 when the try is not QUEUED.
- ``PUT /task-instances/{ti_id}/heartbeat`` -> 200 `{"token": fresh}`; 409 when the try is
  no longer RUNNING (the worker must stop).
- ``PATCH /task-instances/{ti_id}/state`` `{state, skip}` -> 204; 409 when not RUNNING.
- ``GET|POST /task-instances/{ti_id}/xcoms/{task_id}/{key}?map_index=`` -> `{"value"}`
  (GET: 404 when absent; POST pushes for the token's own task instance only, 403 else).
- ``GET /variables/{key}``, ``GET /connections/{conn_id}`` -> 200 / 404.
- ``PUT /variables/{key}`` `{value, description}` -> 201 (``Variable.set``: written to the
  metastore, encrypted); ``DELETE /variables/{key}`` -> 204, 404 when the metastore does
  not hold it (``Variable.delete``).

- ``POST /dag-runs/{dag_id}/{run_id}`` `{conf, logical_date, run_after, reset_dag_run,
  fail_when_dag_is_paused, note}` -> 200 `{"outcome": "created" | "reset" | "exists" |
  "paused"}`; 404 when the DAG does not exist (``TriggerDagRunOperator``).
- ``GET /dag-runs/{dag_id}/{run_id}/state`` -> 200 `{"state"}`; 404 when there is no run.

400: arguments the operation does not take, or that break the input rules the REST API
has (`protocol.check_args`: NUL, unpaired surrogates, NaN, nesting). 401: missing, forged
or expired token. 403: a token for another try. 413: a body larger than
``api.max_request_body_size`` (refused by its Content-Length before it is read, or as soon
as a streamed body passes it).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_sc.execution.context import TryContext
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.errors import BadRequest, ExecutionError, TooLarge
from airflow_sc.execution.protocol import TRY_SCOPED, Operation

__all__ = ["create_execution_app"]

#: Renders an operation's answer as the route's response.
Render = Callable[[Any, dict[str, Any]], Response]


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


async def _read(request: Request, limit: int) -> bytes:
    """The body, read at most `limit` bytes far (`TooLarge` beyond)."""
    problem = (
        f"Request body is larger than {limit} bytes, the limit set by api.max_request_body_size"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(problem)
    chunks: list[bytes] = []
    size = 0
    async with contextlib.aclosing(request.stream()) as stream:  # closed when refused
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise TooLarge(problem)
            chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await _read(request, request.app.state.max_body_size) or b"{}")
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply to be read") from exc
    except ValueError as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _route(path: str, method: str, op: Operation, render: Render, *, body: bool) -> Route:
    async def handle(request: Request) -> Response:
        dispatcher: ExecutionDispatcher = request.app.state.dispatcher
        raw: dict[str, Any] = {}
        try:
            raw.update(request.query_params)
            if body:
                raw.update(await _body(request))
            raw.update({k: v for k, v in request.path_params.items() if k != "ti_id"})
            acting = request.path_params["ti_id"] if op in TRY_SCOPED else None
            answer = await dispatcher.call(op, _token(request), raw, acting_try=acting)
        except ExecutionError as exc:
            headers = {"connection": "close"} if exc.status == 413 else None
            return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)
        return render(answer, raw)

    return Route(path, handle, methods=[method])


def _context(answer: TryContext, raw: dict[str, Any]) -> Response:
    return JSONResponse(answer.to_json())


def _token_answer(answer: str, raw: dict[str, Any]) -> Response:
    return JSONResponse({"token": answer})


def _no_content(answer: None, raw: dict[str, Any]) -> Response:
    return Response(status_code=204)


def _value(answer: Any, raw: dict[str, Any]) -> Response:
    return JSONResponse({"value": answer})


def _variable(answer: str, raw: dict[str, Any]) -> Response:
    return JSONResponse({"key": raw["key"], "value": answer})


def _variable_set(answer: None, raw: dict[str, Any]) -> Response:
    return JSONResponse({"message": "Variable successfully set"}, status_code=201)


def _trigger_outcome(answer: str, raw: dict[str, Any]) -> Response:
    return JSONResponse({"outcome": answer})


def _run_state(answer: str, raw: dict[str, Any]) -> Response:
    return JSONResponse({"state": answer})


def _connection(answer: dict[str, Any], raw: dict[str, Any]) -> Response:
    return JSONResponse(answer)


_TI = "/task-instances/{ti_id}"
_XCOM = f"{_TI}/xcoms/{{task_id}}/{{key}}"
_VARIABLE = "/variables/{key}"
_CONNECTION = "/connections/{conn_id}"
_DAG_RUN = "/dag-runs/{dag_id}/{run_id}"


def create_execution_app(
    dispatcher: ExecutionDispatcher, *, max_body_size: int = 10 * 1024 * 1024
) -> Starlette:
    """The execution API as its own app (the main app mounts it at ``/execution``);
    request bodies are read at most `max_body_size` bytes far."""
    app = Starlette(
        routes=[
            _route(f"{_TI}/run", "PATCH", Operation.START, _context, body=True),
            _route(f"{_TI}/heartbeat", "PUT", Operation.HEARTBEAT, _token_answer, body=False),
            _route(f"{_TI}/state", "PATCH", Operation.FINISH, _no_content, body=True),
            _route(_XCOM, "GET", Operation.XCOM_PULL, _value, body=False),
            _route(_XCOM, "POST", Operation.XCOM_PUSH, _no_content, body=True),
            _route("/variables/{key}", "GET", Operation.GET_VARIABLE, _variable, body=False),
            _route("/variables/{key}", "PUT", Operation.SET_VARIABLE, _variable_set, body=True),
            _route(
                "/variables/{key}", "DELETE", Operation.DELETE_VARIABLE, _no_content, body=False
            ),
            _route(
                "/connections/{conn_id}", "GET", Operation.GET_CONNECTION, _connection, body=False
            ),
            _route(_DAG_RUN, "POST", Operation.TRIGGER_DAG_RUN, _trigger_outcome, body=True),
            _route(f"{_DAG_RUN}/state", "GET", Operation.GET_DAG_RUN_STATE, _run_state, body=False),
        ]
    )
    app.state.dispatcher = dispatcher
    app.state.max_body_size = max_body_size
    return app
