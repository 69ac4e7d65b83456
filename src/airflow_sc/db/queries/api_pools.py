"""Pools with their slot usage, for the REST API (writes go through `api_bulk.write_keyed`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import OrderColumns, name_clauses, order_clauses, read_page
from airflow_sc.db.models import slot_pool, task_instance
from airflow_sc.domain.listing import Listing, NamePattern, Page

__all__ = ["POOL_ORDER_KEYS", "PoolRow", "get_pool", "list_pools"]

_POOL_ORDER_COLUMNS: OrderColumns = {
    "id": slot_pool.c.id,
    "pool": slot_pool.c.pool,
    "name": slot_pool.c.pool,
}
#: Attributes a pool listing sorts by (Airflow's names, in its order).
POOL_ORDER_KEYS = tuple(_POOL_ORDER_COLUMNS)
_POOL_COLUMNS = (
    slot_pool.c.pool,
    slot_pool.c.slots,
    slot_pool.c.description,
    slot_pool.c.include_deferred,
)


@dataclass(frozen=True, slots=True)
class PoolRow:
    pool: str
    slots: int
    description: str | None
    include_deferred: bool
    #: Task instances in the pool by state (running, queued, scheduled, deferred).
    states: dict[str, int] = field(default_factory=dict)


async def _usage(tx: Transaction, pools: Sequence[str]) -> dict[str, dict[str, int]]:
    usage: dict[str, dict[str, int]] = {p: {} for p in pools}
    if not pools:
        return usage
    rows = await tx.execute(
        select(
            task_instance.c.pool,
            task_instance.c.state,
            func.sum(task_instance.c.pool_slots).label("n"),
        )
        .where(
            task_instance.c.pool.in_(list(pools)),
            task_instance.c.state.in_(["running", "queued", "scheduled", "deferred"]),
        )
        .group_by(task_instance.c.pool, task_instance.c.state)
    )
    for row in rows:
        usage[row.pool][row.state] = int(row.n or 0)
    return usage


async def list_pools(db: Database, name: NamePattern, listing: Listing) -> Page[PoolRow]:
    """Pools whose name matches `name`, one page of them with their slot usage."""
    query = (
        select(*_POOL_COLUMNS)
        .where(*name_clauses(slot_pool.c.pool, name))
        .order_by(*order_clauses(listing, _POOL_ORDER_COLUMNS, [slot_pool.c.id]))
    )

    return await read_page(db, query, listing, _with_usage)


async def _with_usage(tx: Transaction, rows: list[Any]) -> list[PoolRow]:
    usage = await _usage(tx, [r.pool for r in rows])
    return [PoolRow(**r._mapping, states=usage[r.pool]) for r in rows]


async def get_pool(db: Database, name: str) -> PoolRow | None:
    async def body(tx: Transaction) -> PoolRow | None:
        rows = (await tx.execute(select(*_POOL_COLUMNS).where(slot_pool.c.pool == name))).all()
        found = await _with_usage(tx, rows)
        return found[0] if found else None

    return await db.run(body, write=False)
