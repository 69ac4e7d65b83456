"""Pools with their slot usage, for the REST API (writes go through `api_bulk.write_keyed`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, true

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import slot_pool, task_instance

__all__ = ["POOL_ORDER_COLUMNS", "PoolRow", "get_pool", "list_pools"]

POOL_ORDER_COLUMNS = {"id": "id", "pool": "pool", "name": "pool", "slots": "slots"}


@dataclass(frozen=True, slots=True)
class PoolRow:
    pool: str
    slots: int
    description: str | None
    include_deferred: bool
    #: Task instances in the pool by state (running, queued, scheduled, deferred).
    states: dict[str, int] = field(default_factory=dict)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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


async def list_pools(
    db: Database,
    *,
    name_pattern: str | None,
    name_prefix: str | None,
    order: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[PoolRow], int]:
    async def body(tx: Transaction) -> tuple[list[PoolRow], int]:
        conditions: list[Any] = []
        if name_pattern and name_pattern not in ("~", "%"):
            conditions.append(
                func.lower(slot_pool.c.pool).like(
                    f"%{_like_escape(name_pattern.lower())}%", escape="\\"
                )
            )
        if name_prefix:
            conditions.append(slot_pool.c.pool.like(f"{_like_escape(name_prefix)}%", escape="\\"))
        where = conditions or [true()]
        total = int(await tx.scalar(select(func.count()).select_from(slot_pool).where(*where)))
        ordering = [slot_pool.c[k].desc() if d else slot_pool.c[k].asc() for k, d in order]
        rows = (
            await tx.execute(
                select(
                    slot_pool.c.pool,
                    slot_pool.c.slots,
                    slot_pool.c.description,
                    slot_pool.c.include_deferred,
                )
                .where(*where)
                .order_by(*ordering)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        usage = await _usage(tx, [r.pool for r in rows])
        return [PoolRow(**r._mapping, states=usage[r.pool]) for r in rows], total

    return await db.run(body, write=False)


async def get_pool(db: Database, name: str) -> PoolRow | None:
    async def body(tx: Transaction) -> PoolRow | None:
        row = (
            await tx.execute(
                select(
                    slot_pool.c.pool,
                    slot_pool.c.slots,
                    slot_pool.c.description,
                    slot_pool.c.include_deferred,
                ).where(slot_pool.c.pool == name)
            )
        ).first()
        if row is None:
            return None
        usage = await _usage(tx, [row.pool])
        return PoolRow(**row._mapping, states=usage[row.pool])

    return await db.run(body, write=False)
