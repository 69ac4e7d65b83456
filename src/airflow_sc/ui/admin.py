"""The admin pages: `/variables`, `/connections` and `/pools` (list with search and pages,
create, edit, delete).

They read and write through the REST API's own route functions
(`api.routes.variables`, `.connections`, `.pools`): the same encryption, the same checks
and errors, and the same masking (a variable under a sensitive key, a connection's
password and the sensitive members of its extra are `***`). Permissions are the API's:
`variable:read`/`edit`, `connection:read`/`edit` (op, admin), `pool:read` (every role)
and `pool:edit` (op, admin). Every write is a POST carrying the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_sc.api.context import ApiContext
from airflow_sc.api.routes import connections as api_connections
from airflow_sc.api.routes import pools as api_pools
from airflow_sc.api.routes import variables as api_variables
from airflow_sc.api.schemas.pools import PoolBody, PoolPatchBody
from airflow_sc.api.schemas.secrets import ConnectionBody, VariableBody
from airflow_sc.auth import Permission
from airflow_sc.db.queries import secrets as secret_queries
from airflow_sc.ui.access import Form, checked_form, context_of, first, page_requires
from airflow_sc.ui.admin_forms import (
    AdminField,
    connection_fields,
    merge_masked_extra,
    pool_fields,
    read_submitted,
    variable_fields,
    with_errors,
)
from airflow_sc.ui.rendering import render, with_security_headers
from airflow_sc.ui.session import Session

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AdminKind:
    path: str
    title: str
    singular: str
    #: The response member that names an entry.
    key: str
    #: (column heading, response member) of the list.
    columns: tuple[tuple[str, str], ...]
    edit: Permission


VARIABLES = AdminKind(
    "variables",
    "Variables",
    "variable",
    "key",
    (("Key", "key"), ("Value", "value"), ("Description", "description")),
    Permission.VARIABLE_EDIT,
)
CONNECTIONS = AdminKind(
    "connections",
    "Connections",
    "connection",
    "connection_id",
    (
        ("Connection id", "connection_id"),
        ("Type", "conn_type"),
        ("Host", "host"),
        ("Schema", "schema"),
        ("Login", "login"),
        ("Password", "password"),
        ("Port", "port"),
        ("Extra", "extra"),
        ("Description", "description"),
    ),
    Permission.CONNECTION_EDIT,
)
POOLS = AdminKind(
    "pools",
    "Pools",
    "pool",
    "name",
    (
        ("Name", "name"),
        ("Slots", "slots"),
        ("Running", "running_slots"),
        ("Queued", "queued_slots"),
        ("Open", "open_slots"),
        ("Deferred take slots", "include_deferred"),
        ("Description", "description"),
    ),
    Permission.POOL_EDIT,
)

Search = Annotated[str, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0)]


class FormProblem(Exception):
    """What to show on a form sent back: an error per field and/or one for the form."""

    def __init__(self, fields: Mapping[str, str], message: str | None = None) -> None:
        super().__init__(message or "; ".join(fields.values()))
        self.fields = dict(fields)
        self.message = message


def _problem(exc: ValidationError | HTTPException, key_field: str) -> FormProblem:
    if isinstance(exc, HTTPException):
        if exc.status_code == 409:
            return FormProblem({key_field: str(exc.detail)})
        return FormProblem({}, str(exc.detail))
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        fields.setdefault(name.rstrip("_"), str(error["msg"]))
    return FormProblem(fields)


# -- the shared pages ----------------------------------------------------------------------


def _list_url(kind: AdminKind, search: str, offset: int) -> str:
    query = [(k, v) for k, v in (("search", search), ("offset", offset)) if v not in ("", 0)]
    return f"/{kind.path}" + (f"?{urlencode(query)}" if query else "")


async def _list_page(
    session: Session,
    kind: AdminKind,
    search: str,
    offset: int,
    rows: list[dict[str, Any]],
    total: int,
) -> Response:
    shown = [
        (row[kind.key], ["" if row.get(m) is None else str(row.get(m)) for _, m in kind.columns])
        for row in rows
    ]
    return render(
        "admin_list.html",
        {
            "session": session,
            "kind": kind,
            "rows": shown,
            "total": total,
            "search": search,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "previous": _list_url(kind, search, max(offset - PAGE_SIZE, 0)) if offset else None,
            "next": (
                _list_url(kind, search, offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None
            ),
            "can_edit": session.may(kind.edit),
        },
    )


def _form_page(
    session: Session,
    kind: AdminKind,
    fields: list[AdminField],
    key: str | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        "admin_form.html",
        {
            "session": session,
            "kind": kind,
            "fields": fields,
            "key": key,
            "error": error,
            "action": f"/{kind.path}/"
            + ("new" if key is None else "edit?" + urlencode({"key": key})),
        },
        status_code=status_code,
    )


def _not_found(session: Session, kind: AdminKind, key: str) -> Response:
    return render(
        "message.html",
        {"session": session, "title": "Not found", "message": f"No {kind.singular} {key!r}."},
        status_code=404,
    )


def _back(kind: AdminKind) -> Response:
    return with_security_headers(RedirectResponse(f"/{kind.path}", status_code=303))


async def _submit(
    session: Session,
    kind: AdminKind,
    fields: list[AdminField],
    form: Form,
    key: str | None,
    write: Callable[[dict[str, str]], Awaitable[object]],
) -> Response:
    """Write what the form says through `write`; on a problem, the form again with the
    errors next to their fields (and what was typed, but no password)."""
    submitted = read_submitted(fields, form)
    try:
        try:
            await write(submitted.values)
        except (ValidationError, HTTPException) as exc:
            raise _problem(exc, fields[0].name) from None
    except FormProblem as problem:
        return _form_page(
            session,
            kind,
            with_errors(submitted.fields, problem.fields),
            key,
            error=problem.message,
            status_code=409 if kind.key in problem.fields else 400,
        )
    return _back(kind)


async def _delete(
    session: Session, kind: AdminKind, key: str, delete: Callable[[], Awaitable[object]]
) -> Response:
    try:
        await delete()
    except HTTPException as exc:
        if exc.status_code == 404:
            return _not_found(session, kind, key)
        return render(
            "message.html",
            {"session": session, "title": "Not deleted", "message": str(exc.detail)},
            status_code=exc.status_code,
        )
    return _back(kind)


# -- variables -----------------------------------------------------------------------------

_VARIABLE_READ = page_requires(Permission.VARIABLE_READ)
_VARIABLE_EDIT = page_requires(Permission.VARIABLE_EDIT)


@router.get("/variables")
async def variables_page(
    request: Request,
    session: Annotated[Session, Depends(_VARIABLE_READ)],
    search: Search = "",
    offset: Offset = 0,
) -> Response:
    query = api_variables.VariableListQuery(
        limit=PAGE_SIZE, offset=offset, order_by=["key"], variable_key_pattern=search or None
    )
    page = await api_variables.get_variables(context_of(request), query)
    rows = [v.model_dump() for v in page.variables]
    return await _list_page(session, VARIABLES, search, offset, rows, page.total_entries)


async def _variable(ctx: ApiContext, key: str) -> dict[str, Any] | None:
    try:
        return (await api_variables.get_variable(ctx, key)).model_dump()
    except HTTPException:
        return None


@router.get("/variables/new")
async def new_variable(session: Annotated[Session, Depends(_VARIABLE_EDIT)]) -> Response:
    return _form_page(session, VARIABLES, variable_fields(None), None)


@router.post("/variables/new")
async def create_variable(
    request: Request, session: Annotated[Session, Depends(_VARIABLE_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)

    async def write(values: dict[str, str]) -> object:
        body = VariableBody(
            key=values["key"], value=values["value"], description=values["description"] or None
        )
        return await api_variables.post_variable(ctx, body)

    return await _submit(session, VARIABLES, variable_fields(None), form, None, write)


@router.get("/variables/edit")
async def edit_variable(
    request: Request, key: str, session: Annotated[Session, Depends(_VARIABLE_EDIT)]
) -> Response:
    row = await _variable(context_of(request), key)
    if row is None:
        return _not_found(session, VARIABLES, key)
    return _form_page(session, VARIABLES, variable_fields(row), key)


@router.post("/variables/edit")
async def update_variable(
    request: Request, key: str, session: Annotated[Session, Depends(_VARIABLE_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)
    row = await _variable(ctx, key)
    if row is None:
        return _not_found(session, VARIABLES, key)
    fields = variable_fields(row)
    value_hidden = bool(next(f.hint for f in fields if f.name == "value"))

    async def write(values: dict[str, str]) -> object:
        mask = ["description"]
        if values["value"] or not value_hidden:
            mask.append("value")
        body = VariableBody(
            key=key, value=values["value"], description=values["description"] or None
        )
        return await api_variables.patch_variable(ctx, key, body, mask)

    return await _submit(session, VARIABLES, fields, form, key, write)


@router.post("/variables/delete")
async def delete_variable(
    request: Request, session: Annotated[Session, Depends(_VARIABLE_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    key = first(form, "key")
    ctx = context_of(request)
    return await _delete(session, VARIABLES, key, lambda: api_variables.delete_variable(ctx, key))


# -- connections ---------------------------------------------------------------------------

_CONNECTION_READ = page_requires(Permission.CONNECTION_READ)
_CONNECTION_EDIT = page_requires(Permission.CONNECTION_EDIT)


@router.get("/connections")
async def connections_page(
    request: Request,
    session: Annotated[Session, Depends(_CONNECTION_READ)],
    search: Search = "",
    offset: Offset = 0,
) -> Response:
    query = api_connections.ConnectionListQuery(
        limit=PAGE_SIZE,
        offset=offset,
        order_by=["connection_id"],
        connection_id_pattern=search or None,
    )
    page = await api_connections.get_connections(context_of(request), query)
    rows = [c.model_dump() for c in page.connections]
    return await _list_page(session, CONNECTIONS, search, offset, rows, page.total_entries)


async def _connection(ctx: ApiContext, conn_id: str) -> dict[str, Any] | None:
    try:
        return (await api_connections.get_connection(ctx, conn_id)).model_dump()
    except HTTPException:
        return None


def _port(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise FormProblem({"port": "must be a whole number"}) from None


def _connection_body(conn_id: str, values: dict[str, str], *, extra: str | None) -> ConnectionBody:
    return ConnectionBody.model_validate(
        {
            "connection_id": conn_id,
            "conn_type": values["conn_type"],
            "description": values["description"] or None,
            "host": values["host"] or None,
            "schema": values["schema"] or None,
            "login": values["login"] or None,
            "port": _port(values["port"]),
            "password": values["password"] or None,
            "extra": extra,
        }
    )


@router.get("/connections/new")
async def new_connection(session: Annotated[Session, Depends(_CONNECTION_EDIT)]) -> Response:
    return _form_page(session, CONNECTIONS, connection_fields(None), None)


@router.post("/connections/new")
async def create_connection(
    request: Request, session: Annotated[Session, Depends(_CONNECTION_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)

    async def write(values: dict[str, str]) -> object:
        body = _connection_body(values["connection_id"], values, extra=values["extra"] or None)
        return await api_connections.post_connection(ctx, body)

    return await _submit(session, CONNECTIONS, connection_fields(None), form, None, write)


@router.get("/connections/edit")
async def edit_connection(
    request: Request, key: str, session: Annotated[Session, Depends(_CONNECTION_EDIT)]
) -> Response:
    row = await _connection(context_of(request), key)
    if row is None:
        return _not_found(session, CONNECTIONS, key)
    return _form_page(session, CONNECTIONS, connection_fields(row), key)


async def _stored_extra(ctx: ApiContext, conn_id: str) -> str | None:
    stored = await secret_queries.get_connection(ctx.db, conn_id)
    if stored is None or not stored.extra:
        return None
    if stored.is_extra_encrypted:
        return ctx.require_cipher().decrypt(stored.extra, what=f"connection {conn_id!r} extra")
    return stored.extra


@router.post("/connections/edit")
async def update_connection(
    request: Request, key: str, session: Annotated[Session, Depends(_CONNECTION_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)
    row = await _connection(ctx, key)
    if row is None:
        return _not_found(session, CONNECTIONS, key)

    async def write(values: dict[str, str]) -> object:
        mask = ["conn_type", "description", "host", "schema", "login", "port"]
        if values["password"] or values.get("clear_password") == "true":
            mask.append("password")
        if values.get("clear_password") == "true":
            values = values | {"password": ""}
        extra: str | None = None
        if values["extra"].strip():
            try:
                extra = merge_masked_extra(values["extra"], await _stored_extra(ctx, key))
            except ValueError:
                raise FormProblem({"extra": "must be a JSON object"}) from None
            mask.append("extra")
        elif row.get("extra") != "***":
            mask.append("extra")  # emptied: no extra any more
        body = _connection_body(key, values, extra=extra)
        return await api_connections.patch_connection(ctx, key, body, mask)

    return await _submit(session, CONNECTIONS, connection_fields(row), form, key, write)


@router.post("/connections/delete")
async def delete_connection(
    request: Request, session: Annotated[Session, Depends(_CONNECTION_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    key = first(form, "key")
    ctx = context_of(request)
    return await _delete(
        session, CONNECTIONS, key, lambda: api_connections.delete_connection(ctx, key)
    )


# -- pools ---------------------------------------------------------------------------------

_POOL_READ = page_requires(Permission.POOL_READ)
_POOL_EDIT = page_requires(Permission.POOL_EDIT)


@router.get("/pools")
async def pools_page(
    request: Request,
    session: Annotated[Session, Depends(_POOL_READ)],
    search: Search = "",
    offset: Offset = 0,
) -> Response:
    query = api_pools.PoolListQuery(
        limit=PAGE_SIZE, offset=offset, order_by=["name"], pool_name_pattern=search or None
    )
    page = await api_pools.get_pools(context_of(request), query)
    rows = [p.model_dump() for p in page.pools]
    return await _list_page(session, POOLS, search, offset, rows, page.total_entries)


def _slots(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FormProblem({"slots": "must be a whole number"}) from None


@router.get("/pools/new")
async def new_pool(session: Annotated[Session, Depends(_POOL_EDIT)]) -> Response:
    return _form_page(session, POOLS, pool_fields(None), None)


@router.post("/pools/new")
async def create_pool(
    request: Request, session: Annotated[Session, Depends(_POOL_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)

    async def write(values: dict[str, str]) -> object:
        body = PoolBody(
            name=values["name"],
            slots=_slots(values["slots"]),
            description=values["description"] or None,
            include_deferred=values["include_deferred"] == "true",
        )
        return await api_pools.post_pool(ctx, body)

    return await _submit(session, POOLS, pool_fields(None), form, None, write)


async def _pool(ctx: ApiContext, name: str) -> dict[str, Any] | None:
    try:
        return (await api_pools.get_pool(ctx, name)).model_dump()
    except HTTPException:
        return None


@router.get("/pools/edit")
async def edit_pool(
    request: Request, key: str, session: Annotated[Session, Depends(_POOL_EDIT)]
) -> Response:
    row = await _pool(context_of(request), key)
    if row is None:
        return _not_found(session, POOLS, key)
    return _form_page(session, POOLS, pool_fields(row), key)


@router.post("/pools/edit")
async def update_pool(
    request: Request, key: str, session: Annotated[Session, Depends(_POOL_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)
    row = await _pool(ctx, key)
    if row is None:
        return _not_found(session, POOLS, key)

    async def write(values: dict[str, str]) -> object:
        body = PoolPatchBody(
            slots=_slots(values["slots"]),
            description=values["description"] or None,
            include_deferred=values["include_deferred"] == "true",
        )
        return await api_pools.patch_pool(ctx, key, body, None)

    return await _submit(session, POOLS, pool_fields(row), form, key, write)


@router.post("/pools/delete")
async def delete_pool(
    request: Request, session: Annotated[Session, Depends(_POOL_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    key = first(form, "key")
    ctx = context_of(request)
    return await _delete(session, POOLS, key, lambda: api_pools.delete_pool(ctx, key))
