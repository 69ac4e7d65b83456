"""Connections: `/connections` (list, create, bulk) and `/connections/{connection_id}`.

Passwords and extras are stored encrypted; responses never show a password (`***`) and
hide the sensitive members of `extra`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from airflow_sc.api.bulk import BulkBody, BulkResource, BulkResponse, run_bulk
from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import ListQuery, order_by_param, pattern_param, prefix_pattern_param
from airflow_sc.api.masking import masked_extra, masked_password
from airflow_sc.api.schemas.secrets import (
    ConnectionBody,
    ConnectionCollectionResponse,
    ConnectionResponse,
)
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.queries import secrets as queries
from airflow_sc.db.queries.api_bulk import Writes, write_keyed
from airflow_sc.db.queries.secrets import StoredConnection
from airflow_sc.secrets import normalize_conn_type

router = APIRouter(tags=["Connection"])

_READ = [Depends(requires(Permission.CONNECTION_READ))]
_EDIT = [Depends(requires(Permission.CONNECTION_EDIT))]

#: Body field -> column.
_COLUMNS: Final = {
    "connection_id": "conn_id",
    "conn_type": "conn_type",
    "description": "description",
    "host": "host",
    "login": "login",
    "schema": "schema",
    "port": "port",
    "password": "password",
    "extra": "extra",
}


def _not_found(conn_id: str) -> HTTPException:
    return HTTPException(404, f"The Connection with connection_id: `{conn_id}` was not found")


def _response(ctx: ApiContext, row: StoredConnection) -> ConnectionResponse:
    extra = row.extra
    if extra and row.is_extra_encrypted:
        extra = ctx.require_cipher().decrypt(extra, what=f"connection {row.conn_id!r} extra")
    return ConnectionResponse(
        connection_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        login=row.login,
        schema=row.schema,
        port=row.port,
        password=masked_password(row.password),
        extra=masked_extra(ctx.masker, extra),
        team_name=None,
    )


def _field(body: ConnectionBody, name: str) -> Any:
    return body.schema_ if name == "schema" else getattr(body, name)


def _resource(ctx: ApiContext) -> BulkResource[ConnectionBody]:
    cipher = ctx.require_cipher()

    def column_values(body: ConnectionBody, names: Sequence[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in names:
            value = _field(body, name)
            if name == "conn_type":
                value = normalize_conn_type(value)
            elif name == "password":
                values["is_encrypted"] = value is not None
                value = None if value is None else cipher.encrypt(value)
            elif name == "extra":
                values["is_extra_encrypted"] = bool(value)
                value = cipher.encrypt(value) if value else None
            values[_COLUMNS[name]] = value
        return values

    def update_values(body: ConnectionBody, mask: Sequence[str] | None) -> Mapping[str, Any]:
        names = [n for n in (body.model_fields_set if mask is None else mask) if n in _COLUMNS]
        return column_values(body, ["schema" if n == "schema_" else n for n in names])

    return BulkResource(
        table="connection",
        what="connection",
        key_of=lambda body: body.connection_id,
        insert_values=lambda body: column_values(body, list(_COLUMNS)),
        update_values=update_values,
    )


class ConnectionListQuery(ListQuery):
    order_by: list[str] = order_by_param(queries.CONNECTION_ORDER_KEYS, ["id"])
    connection_id_pattern: str | None = pattern_param("connection_id")
    connection_id_prefix_pattern: str | None = prefix_pattern_param("connection_id")


@router.get("/connections", dependencies=_READ, responses=error_responses(400, 404))
async def get_connections(
    ctx: Ctx, query: Annotated[ConnectionListQuery, Query()]
) -> ConnectionCollectionResponse:
    """Connections, with passwords and sensitive extras masked."""
    page = await queries.list_connections(
        ctx.db, query.name_pattern("connection_id"), query.listing(queries.CONNECTION_ORDER_KEYS)
    )
    return ConnectionCollectionResponse(
        connections=[_response(ctx, r) for r in page.items], total_entries=page.total
    )


@router.get("/connections/{connection_id}", dependencies=_READ, responses=error_responses(404))
async def get_connection(ctx: Ctx, connection_id: str) -> ConnectionResponse:
    row = await queries.get_connection(ctx.db, connection_id)
    if row is None:
        raise _not_found(connection_id)
    return _response(ctx, row)


@router.post("/connections", status_code=201, dependencies=_EDIT, responses=error_responses(409))
async def post_connection(ctx: Ctx, body: ConnectionBody) -> ConnectionResponse:
    """Create a connection (password and extra stored encrypted); 409 if the id exists."""
    values = _resource(ctx).insert_values(body)

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return (Writes(), False) if existing else (Writes(insert=[values]), True)

    if not await write_keyed(ctx.db, "connection", [body.connection_id], decide):
        raise HTTPException(
            409, f"The Connection with connection_id: `{body.connection_id}` already exists"
        )
    ctx.forget_secrets("connection", [body.connection_id])
    row = await queries.get_connection(ctx.db, body.connection_id)
    if row is None:
        raise _not_found(body.connection_id)
    return _response(ctx, row)


@router.patch("/connections", dependencies=_EDIT, responses=error_responses())
async def bulk_connections(ctx: Ctx, body: BulkBody[ConnectionBody]) -> BulkResponse:
    """Create, update and delete connections in one request."""
    response = await run_bulk(ctx.db, _resource(ctx), body)
    ctx.forget_secrets("connection", response.written_keys())
    return response


@router.patch(
    "/connections/{connection_id}", dependencies=_EDIT, responses=error_responses(400, 404)
)
async def patch_connection(
    ctx: Ctx,
    connection_id: str,
    body: ConnectionBody,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> ConnectionResponse:
    """Update a connection: the fields in `update_mask`, else the fields the body sets."""
    if body.connection_id != connection_id:
        raise HTTPException(
            400, "The connection_id in the request body does not match the URL parameter"
        )
    if update_mask is not None:
        unknown = [f for f in update_mask if f not in _COLUMNS or f == "connection_id"]
        if unknown:
            raise HTTPException(400, f"Invalid fields in update_mask: {unknown}")
    values = _resource(ctx).update_values(body, update_mask)

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return (Writes(update={connection_id: values}), True) if existing else (Writes(), False)

    if not await write_keyed(ctx.db, "connection", [connection_id], decide):
        raise _not_found(connection_id)
    ctx.forget_secrets("connection", [connection_id])
    row = await queries.get_connection(ctx.db, connection_id)
    if row is None:
        raise _not_found(connection_id)
    return _response(ctx, row)


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    dependencies=_EDIT,
    responses=error_responses(404),
)
async def delete_connection(ctx: Ctx, connection_id: str) -> Response:
    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return Writes(delete=list(existing)), bool(existing)

    if not await write_keyed(ctx.db, "connection", [connection_id], decide):
        raise _not_found(connection_id)
    ctx.forget_secrets("connection", [connection_id])
    return Response(status_code=204)
