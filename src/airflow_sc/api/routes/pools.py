"""Pools: `/pools` (list, create, bulk) and `/pools/{pool_name}` (get, patch, delete)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from airflow_sc.api.bulk import BulkBody, BulkResource, BulkResponse, run_bulk
from airflow_sc.api.context import Ctx
from airflow_sc.api.errors import error_responses
from airflow_sc.api.listing import ListQuery, order_by_param, pattern_param, prefix_pattern_param
from airflow_sc.api.schemas.pools import (
    PoolBody,
    PoolCollectionResponse,
    PoolPatchBody,
    PoolResponse,
)
from airflow_sc.api.security import requires
from airflow_sc.auth import Permission
from airflow_sc.db.models import DEFAULT_POOL_NAME
from airflow_sc.db.queries import api_pools as queries
from airflow_sc.db.queries.api_bulk import Writes, write_keyed

router = APIRouter(tags=["Pool"])

_READ = [Depends(requires(Permission.POOL_READ))]
_EDIT = [Depends(requires(Permission.POOL_EDIT))]


def _not_found(name: str) -> HTTPException:
    return HTTPException(404, f"The Pool with name: `{name}` was not found")


def _response(row: queries.PoolRow) -> PoolResponse:
    running = row.states.get("running", 0)
    queued = row.states.get("queued", 0)
    scheduled = row.states.get("scheduled", 0)
    deferred = row.states.get("deferred", 0)
    occupied = running + queued + (deferred if row.include_deferred else 0)
    return PoolResponse(
        name=row.pool,
        slots=row.slots,
        description=row.description,
        include_deferred=row.include_deferred,
        occupied_slots=occupied,
        running_slots=running,
        queued_slots=queued,
        scheduled_slots=scheduled,
        open_slots=row.slots - occupied if row.slots >= 0 else -1,
        deferred_slots=deferred,
        team_name=None,
    )


def _insert_values(body: PoolBody) -> Mapping[str, Any]:
    return {
        "pool": body.name,
        "slots": body.slots,
        "description": body.description,
        "include_deferred": body.include_deferred,
    }


_BODY_COLUMNS = {
    "name": "pool",
    "pool": "pool",
    "slots": "slots",
    "description": "description",
    "include_deferred": "include_deferred",
}


def _update_values(body: PoolBody, mask: Sequence[str] | None) -> Mapping[str, Any]:
    values = _insert_values(body)
    if mask is None:
        return values
    return {_BODY_COLUMNS[f]: values[_BODY_COLUMNS[f]] for f in mask if f in _BODY_COLUMNS}


def _refuse_delete(name: str) -> str | None:
    return "Default Pool can't be deleted" if name == DEFAULT_POOL_NAME else None


POOLS: BulkResource[PoolBody] = BulkResource(
    table="pool",
    what="pool",
    key_of=lambda body: body.name,
    insert_values=_insert_values,
    update_values=_update_values,
    refuse_delete=_refuse_delete,
)


class PoolListQuery(ListQuery):
    order_by: list[str] = order_by_param(queries.POOL_ORDER_KEYS, ["id"])
    pool_name_pattern: str | None = pattern_param("pool_name")
    pool_name_prefix_pattern: str | None = prefix_pattern_param("pool_name")


@router.get("/pools", dependencies=_READ, responses=error_responses(400))
async def get_pools(ctx: Ctx, query: Annotated[PoolListQuery, Query()]) -> PoolCollectionResponse:
    """Pools and how many slots their task instances use."""
    page = await queries.list_pools(
        ctx.db, query.name_pattern("pool_name"), query.listing(queries.POOL_ORDER_KEYS)
    )
    return PoolCollectionResponse(
        pools=[_response(r) for r in page.items], total_entries=page.total
    )


@router.get("/pools/{pool_name}", dependencies=_READ, responses=error_responses(404))
async def get_pool(ctx: Ctx, pool_name: str) -> PoolResponse:
    row = await queries.get_pool(ctx.db, pool_name)
    if row is None:
        raise _not_found(pool_name)
    return _response(row)


@router.post("/pools", status_code=201, dependencies=_EDIT, responses=error_responses(409))
async def post_pool(ctx: Ctx, body: PoolBody) -> PoolResponse:
    """Create a pool; 409 if one has the name."""

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        if existing:
            return Writes(), False
        return Writes(insert=[_insert_values(body)]), True

    if not await write_keyed(ctx.db, "pool", [body.name], decide):
        raise HTTPException(409, f"The Pool with name: `{body.name}` already exists")
    row = await queries.get_pool(ctx.db, body.name)
    if row is None:  # deleted again in between
        raise _not_found(body.name)
    return _response(row)


@router.patch("/pools", dependencies=_EDIT, responses=error_responses())
async def bulk_pools(ctx: Ctx, body: BulkBody[PoolBody]) -> BulkResponse:
    """Create, update and delete pools in one request."""
    return await run_bulk(ctx.db, POOLS, body)


@router.patch("/pools/{pool_name}", dependencies=_EDIT, responses=error_responses(400, 404, 409))
async def patch_pool(
    ctx: Ctx,
    pool_name: str,
    body: PoolPatchBody,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> PoolResponse:
    """Update a pool (`update_mask` limits the fields written)."""
    given = body.model_dump(exclude_unset=True)
    fields = list(update_mask) if update_mask is not None else list(given)
    unknown = [f for f in fields if f not in _BODY_COLUMNS and f != "team_name"]
    if unknown:
        raise HTTPException(400, f"Invalid fields in update_mask: {unknown}")
    values = {
        _BODY_COLUMNS[f]: getattr(body, f) for f in fields if f in _BODY_COLUMNS and f != "name"
    }
    if pool_name == DEFAULT_POOL_NAME and set(values) - {
        "slots",
        "include_deferred",
        "description",
    }:
        raise HTTPException(
            400, "Only slots, description and include_deferred can be modified on Default Pool"
        )
    if any(values.get(c) is None for c in ("pool", "slots", "include_deferred") if c in values):
        raise HTTPException(400, f"Fields {sorted(values)} cannot be set to null")
    new_name = values.get("pool", pool_name)
    keys = [pool_name] if new_name == pool_name else [pool_name, new_name]

    def decide(existing: set[str]) -> tuple[Writes, str | None]:
        if pool_name not in existing:
            return Writes(), "missing"
        if new_name != pool_name and new_name in existing:
            return Writes(), "taken"
        return Writes(update={pool_name: values}), None

    problem = await write_keyed(ctx.db, "pool", keys, decide)
    if problem == "missing":
        raise _not_found(pool_name)
    if problem == "taken":
        raise HTTPException(409, f"The Pool with name: `{new_name}` already exists")
    row = await queries.get_pool(ctx.db, new_name)
    if row is None:
        raise _not_found(new_name)
    return _response(row)


@router.delete(
    "/pools/{pool_name}", status_code=204, dependencies=_EDIT, responses=error_responses(400, 404)
)
async def delete_pool(ctx: Ctx, pool_name: str) -> Response:
    reason = _refuse_delete(pool_name)
    if reason:
        raise HTTPException(400, reason)

    def decide(existing: set[str]) -> tuple[Writes, bool]:
        return Writes(delete=list(existing)), bool(existing)

    if not await write_keyed(ctx.db, "pool", [pool_name], decide):
        raise _not_found(pool_name)
    return Response(status_code=204)
