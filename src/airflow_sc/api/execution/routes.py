"""The execution API over HTTP: a Starlette app mounted at ``/execution``.

Routes (all JSON, all with ``Authorization: Bearer <try token>``):

- ``PATCH /task-instances/{ti_id}/run`` `{hostname, pid, unixname}` -> 200 the try's
  context; 409 when the try is not QUEUED.
- ``PUT /task-instances/{ti_id}/heartbeat`` -> 200 `{"token": fresh}`; 409 when the try is
  no longer RUNNING (the worker must stop).
- ``PATCH /task-instances/{ti_id}/state`` `{state, skip}` -> 204; 409 when not RUNNING.
- ``GET|POST /task-instances/{ti_id}/xcoms/{task_id}/{key}?map_index=`` -> `{"value"}`
  (GET: 404 when absent; POST pushes for the token's own task instance only).
- ``GET /variables/{key}``, ``GET /connections/{conn_id}`` -> 200 / 404.
- ``PUT /variables/{key}`` `{value, description}` -> 201 (``Variable.set``: written to the
  metastore, encrypted); ``DELETE /variables/{key}`` -> 204, 404 when the metastore does
  not hold it (``Variable.delete``).

401: missing, forged or expired token. 403: a token for another try.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_sc.api.execution.handlers import ExecutionHandlers, TryConflict, TryNotFound
from airflow_sc.api.execution.tokens import ExecutionTokens, TokenError, TokenExpired
from airflow_sc.db.queries.execution import FINISH_STATES
from airflow_sc.domain.states import TaskInstanceState

__all__ = ["ExecutionApi", "create_execution_app"]


@dataclass(frozen=True, slots=True)
class ExecutionApi:
    """Everything the execution API needs, built once by the composition root."""

    handlers: ExecutionHandlers
    tokens: ExecutionTokens


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


Endpoint = Callable[[Request, ExecutionApi, str], Awaitable[Response]]


def _authorized(api: ExecutionApi, request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _Refused(401, "missing bearer token")
    try:
        return api.tokens.verify(token)
    except TokenExpired as exc:
        raise _Refused(401, "token expired") from exc
    except TokenError as exc:
        raise _Refused(401, "invalid token") from exc


def _route(path: str, endpoint: Endpoint, method: str, *, own_try: bool) -> Route:
    async def handle(request: Request) -> Response:
        api: ExecutionApi = request.app.state.execution_api
        try:
            token_ti = _authorized(api, request)
            if own_try and request.path_params["ti_id"] != token_ti:
                raise _Refused(403, "the token belongs to another task instance try")
            return await endpoint(request, api, token_ti)
        except _Refused as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        except TryConflict as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        except TryNotFound as exc:
            return JSONResponse({"detail": f"no task instance try {exc}"}, status_code=404)

    return Route(path, handle, methods=[method])


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise _Refused(400, "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object")
    return data


async def _run(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    body = await _body(request)
    try:
        hostname, pid = str(body["hostname"]), int(body["pid"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _Refused(400, "hostname and pid are required") from exc
    context = await api.handlers.start(
        ti_id, hostname=hostname, pid=pid, unixname=body.get("unixname")
    )
    return JSONResponse(context.to_json())


async def _heartbeat(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    await api.handlers.heartbeat(ti_id)
    return JSONResponse({"token": api.tokens.issue(ti_id)})


async def _state(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    body = await _body(request)
    try:
        state = TaskInstanceState(str(body.get("state")))
    except ValueError as exc:
        raise _Refused(400, f"unknown state {body.get('state')!r}") from exc
    if state not in FINISH_STATES:
        raise _Refused(400, f"a try cannot finish in state {state.value!r}")
    skip = body.get("skip") or []
    if not isinstance(skip, list) or not all(isinstance(t, str) for t in skip):
        raise _Refused(400, "skip must be a list of task ids")
    await api.handlers.finish(ti_id, state, skip=skip)
    return Response(status_code=204)


def _map_index(request: Request) -> int:
    try:
        return int(request.query_params.get("map_index", "-1"))
    except ValueError as exc:
        raise _Refused(400, "map_index must be an integer") from exc


async def _get_xcom(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    params = request.path_params
    value = await api.handlers.get_xcom(
        ti_id, task_id=params["task_id"], key=params["key"], map_index=_map_index(request)
    )
    if value is None:
        return JSONResponse({"detail": "no such XCom"}, status_code=404)
    return JSONResponse({"value": value})


async def _set_xcom(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    params = request.path_params
    if params["task_id"] != (await _own_task_id(api, ti_id)):
        raise _Refused(403, "a try may only push XComs for its own task")
    body = await _body(request)
    if "value" not in body:
        raise _Refused(400, "value is required")
    await api.handlers.set_xcom(ti_id, key=params["key"], value=body["value"])
    return Response(status_code=204)


async def _own_task_id(api: ExecutionApi, ti_id: str) -> str:
    from airflow_sc.db.queries.execution import try_scope

    scope = await api.handlers.db.run(lambda tx: try_scope(tx, ti_id), write=False)
    if scope is None:
        raise TryNotFound(ti_id)
    return scope.task_id


async def _variable(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    key = request.path_params["key"]
    value = await api.handlers.get_variable(key)
    if value is None:
        return JSONResponse({"detail": f"Variable {key!r} does not exist"}, status_code=404)
    return JSONResponse({"key": key, "value": value})


async def _set_variable(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    key = request.path_params["key"]
    body = await _body(request)
    value, description = body.get("value"), body.get("description")
    if not isinstance(value, str):
        raise _Refused(400, "value is required and must be a string")
    if description is not None and not isinstance(description, str):
        raise _Refused(400, "description must be a string")
    await api.handlers.set_variable(key, value, description=description)
    return JSONResponse({"message": "Variable successfully set"}, status_code=201)


async def _delete_variable(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    key = request.path_params["key"]
    if not await api.handlers.delete_variable(key):
        return JSONResponse({"detail": f"Variable {key!r} does not exist"}, status_code=404)
    return Response(status_code=204)


async def _connection(request: Request, api: ExecutionApi, ti_id: str) -> Response:
    conn_id = request.path_params["conn_id"]
    conn = await api.handlers.get_connection(conn_id)
    if conn is None:
        return JSONResponse({"detail": f"Connection {conn_id!r} does not exist"}, status_code=404)
    return JSONResponse(conn)


_TI = "/task-instances/{ti_id}"


def create_execution_app(api: ExecutionApi) -> Starlette:
    """The execution API as its own app (the main app mounts it at ``/execution``)."""
    app = Starlette(
        routes=[
            _route(f"{_TI}/run", _run, "PATCH", own_try=True),
            _route(f"{_TI}/heartbeat", _heartbeat, "PUT", own_try=True),
            _route(f"{_TI}/state", _state, "PATCH", own_try=True),
            _route(f"{_TI}/xcoms/{{task_id}}/{{key}}", _get_xcom, "GET", own_try=True),
            _route(f"{_TI}/xcoms/{{task_id}}/{{key}}", _set_xcom, "POST", own_try=True),
            _route("/variables/{key}", _variable, "GET", own_try=False),
            _route("/variables/{key}", _set_variable, "PUT", own_try=False),
            _route("/variables/{key}", _delete_variable, "DELETE", own_try=False),
            _route("/connections/{conn_id}", _connection, "GET", own_try=False),
        ]
    )
    app.state.execution_api = api
    return app
