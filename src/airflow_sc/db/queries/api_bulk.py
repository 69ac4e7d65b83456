"""Keyed writes for the REST API's pools, variables and connections (single and bulk).

A write reads which of the named keys exist (locking them), asks a pure `decide`
callback what to insert, update and delete, and applies that, all in one transaction,
so "create unless it exists" and "update only if it exists" hold under concurrency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from sqlalchemy import Table, bindparam, delete, insert, select, update

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import connection, slot_pool, variable

__all__ = ["KeyedTable", "Writes", "write_keyed"]

T = TypeVar("T")
KeyedTable = Literal["pool", "variable", "connection"]

_TABLES: Final[dict[KeyedTable, tuple[Table, str]]] = {
    "pool": (slot_pool, "pool"),
    "variable": (variable, "key"),
    "connection": (connection, "conn_id"),
}


@dataclass(frozen=True, slots=True)
class Writes:
    """Rows to insert (full column values), updates by key, and keys to delete."""

    insert: Sequence[Mapping[str, Any]] = ()
    update: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    delete: Sequence[str] = ()


async def write_keyed(
    db: Database,
    table: KeyedTable,
    keys: Sequence[str],
    decide: Callable[[set[str]], tuple[Writes, T]],
) -> T:
    """Run `decide(existing keys among keys)` and apply its writes in one transaction."""
    model, key_name = _TABLES[table]
    key_column = model.c[key_name]

    async def body(tx: Transaction) -> T:
        existing: set[str] = set()
        if keys:
            existing = set(
                await tx.scalars(
                    select(key_column).where(key_column.in_(list(keys))).with_for_update()
                )
            )
        writes, result = decide(existing)
        await _apply(tx, model, key_name, writes)
        return result

    return await db.run(body)


async def _apply(tx: Transaction, model: Table, key_name: str, writes: Writes) -> None:
    key_column = model.c[key_name]
    if writes.delete:
        await tx.execute(delete(model).where(key_column.in_(list(writes.delete))))
    for key, values in writes.update.items():
        if values:
            await tx.execute(
                update(model).where(key_column == bindparam("b_key")).values(**values),
                {"b_key": key},
            )
    if writes.insert:
        await tx.execute(insert(model), [dict(row) for row in writes.insert])
