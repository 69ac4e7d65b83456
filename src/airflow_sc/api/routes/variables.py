"""Variables: `/variables` (list, create, bulk) and `/variables/{variable_key}`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from airflow_sc.api.bulk import BulkBody, BulkResource, BulkResponse, run_bulk
from airflow_sc.api.context import ApiContext, Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import ListQuery, order_by_param, pattern_param, prefix_pattern_param
from airflow_sc.api.masking import masked_variable_value
from airflow_sc.api.schemas.secrets import (
    VariableBody,
    VariableCollectionResponse,
    VariableResponse,
)
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.queries import secrets as queries
from airflow_sc.db.queries.api_bulk import Writes, write_keyed
from airflow_sc.db.queries.secrets import StoredVariable

router = APIRouter(tags=["Variable"])

_READ = [Depends(requires(Permission.VARIABLE_READ))]
_EDIT = [Depends(requires(Permission.VARIABLE_EDIT))]
_UPDATABLE = ("value", "description")


def _not_found(key: str) -> HTTPException:
    return HTTPException(404, f"The Variable with key: `{key}` was not found")


def _text(value: Any) -> str:
    """How a JSON value is stored: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _response(ctx: ApiContext, row: StoredVariable) -> VariableResponse:
    value = row.val
    if value and row.is_encrypted:
        value = ctx.require_cipher().decrypt(value, what=f"variable {row.key!r}")
    return VariableResponse(
        key=row.key,
        value=masked_variable_value(ctx.masker, row.key, value),
        description=row.description,
        is_encrypted=row.is_encrypted,
        team_name=None,
    )


def _resource(ctx: ApiContext) -> BulkResource[VariableBody]:
    cipher = ctx.require_cipher()

    def insert_values(body: VariableBody) -> Mapping[str, Any]:
        return {
            "key": body.key,
            "val": cipher.encrypt(_text(body.value)),
            "description": body.description,
            "is_encrypted": True,
        }

    def update_values(body: VariableBody, mask: Sequence[str] | None) -> Mapping[str, Any]:
        values: dict[str, Any] = {}
        fields = _UPDATABLE if mask is None else mask
        if "value" in fields:
            values |= {"val": cipher.encrypt(_text(body.value)), "is_encrypted": True}
        if "description" in fields:
            values["description"] = body.description
        return values

    return BulkResource(
        table="variable",
        what="variable",
        key_of=lambda body: body.key,
        insert_values=insert_values,
        update_values=update_values,
    )


class VariableListQuery(ListQuery):
    order_by: list[str] = order_by_param(queries.VARIABLE_ORDER_KEYS, ["id"])
    variable_key_pattern: str | None = pattern_param("variable_key")
    variable_key_prefix_pattern: str | None = prefix_pattern_param("variable_key")


@router.get("/variables", dependencies=_READ, responses=error_responses(400))
async def get_variables(
    ctx: Ctx, query: Annotated[VariableListQuery, Query()]
) -> VariableCollectionResponse:
    """Variables; values under sensitive keys are shown as `***`."""
    page = await queries.list_variables(
        ctx.db, query.name_pattern("variable_key"), query.listing(queries.VARIABLE_ORDER_KEYS)
    )
    return VariableCollectionResponse(
        variables=[_response(ctx, r) for r in page.items], total_entries=page.total
    )


@router.get("/variables/{variable_key:path}", dependencies=_READ, responses=error_responses(404))
async def get_variable(ctx: Ctx, variable_key: str) -> VariableResponse:
    row = await queries.get_variable(ctx.db, variable_key)
    if row is None:
        raise _not_found(variable_key)
    return _response(ctx, row)


@router.post("/variables", status_code=201, dependencies=_EDIT, responses=error_responses(409))
async def post_variable(ctx: Ctx, body: VariableBody) -> VariableResponse:
    """Create a variable (stored encrypted); 409 if the key exists."""
    values = _resource(ctx).insert_values(body)

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return (Writes(), False) if existing else (Writes(insert=[values]), True)

    if not await write_keyed(ctx.db, "variable", [body.key], decide):
        raise HTTPException(409, f"The Variable with key: `{body.key}` already exists")
    ctx.forget_secrets("variable", [body.key])
    return _response(ctx, StoredVariable(body.key, values["val"], body.description, True))


@router.patch("/variables", dependencies=_EDIT, responses=error_responses())
async def bulk_variables(ctx: Ctx, body: BulkBody[VariableBody]) -> BulkResponse:
    """Create, update and delete variables in one request."""
    response = await run_bulk(ctx.db, _resource(ctx), body)
    ctx.forget_secrets("variable", response.written_keys())
    return response


@router.patch(
    "/variables/{variable_key:path}", dependencies=_EDIT, responses=error_responses(400, 404)
)
async def patch_variable(
    ctx: Ctx,
    variable_key: str,
    body: VariableBody,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> VariableResponse:
    """Update a variable's value and/or description."""
    if body.key != variable_key:
        raise HTTPException(400, "Invalid body, key from request body doesn't match uri parameter")
    if update_mask is not None:
        unknown = [f for f in update_mask if f not in _UPDATABLE]
        if unknown:
            raise HTTPException(400, f"Invalid fields in update_mask: {unknown}")
    values = _resource(ctx).update_values(body, update_mask)

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return (Writes(update={variable_key: values}), True) if existing else (Writes(), False)

    if not await write_keyed(ctx.db, "variable", [variable_key], decide):
        raise _not_found(variable_key)
    ctx.forget_secrets("variable", [variable_key])
    row = await queries.get_variable(ctx.db, variable_key)
    if row is None:
        raise _not_found(variable_key)
    return _response(ctx, row)


@router.delete(
    "/variables/{variable_key:path}",
    status_code=204,
    dependencies=_EDIT,
    responses=error_responses(404),
)
async def delete_variable(ctx: Ctx, variable_key: str) -> Response:
    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return Writes(delete=list(existing)), bool(existing)

    if not await write_keyed(ctx.db, "variable", [variable_key], decide):
        raise _not_found(variable_key)
    ctx.forget_secrets("variable", [variable_key])
    return Response(status_code=204)
