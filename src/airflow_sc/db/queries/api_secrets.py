"""Variable and connection rows for the REST API's list and get routes.

Values come back as stored (ciphertext when the `is_*encrypted` flags say so): decrypting
and masking belong to the API layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Table, func, select, true
from sqlalchemy.engine import RowMapping

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import connection, variable
from airflow_sc.db.queries.secrets import StoredConnection, StoredVariable

__all__ = [
    "CONNECTION_ORDER_COLUMNS",
    "VARIABLE_ORDER_COLUMNS",
    "get_connection",
    "get_variable",
    "list_connections",
    "list_variables",
]

VARIABLE_ORDER_COLUMNS = {
    "id": "id",
    "key": "key",
    "description": "description",
    "is_encrypted": "is_encrypted",
}
CONNECTION_ORDER_COLUMNS = {
    "id": "id",
    "connection_id": "conn_id",
    "conn_id": "conn_id",
    "conn_type": "conn_type",
    "description": "description",
    "host": "host",
    "port": "port",
}


_CONNECTION_COLUMNS = [connection.c[f.name] for f in fields(StoredConnection)]
_VARIABLE_COLUMNS = [variable.c[f.name] for f in fields(StoredVariable)]


def _stored_connection(row: RowMapping) -> StoredConnection:
    return StoredConnection(**{f.name: row[f.name] for f in fields(StoredConnection)})


def _stored_variable(row: RowMapping) -> StoredVariable:
    return StoredVariable(**{f.name: row[f.name] for f in fields(StoredVariable)})


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(column: Any, pattern: str | None, prefix: str | None) -> list[Any]:
    out: list[Any] = []
    if pattern and pattern not in ("~", "%"):
        out.append(func.lower(column).like(f"%{_like_escape(pattern.lower())}%", escape="\\"))
    if prefix:
        out.append(column.like(f"{_like_escape(prefix)}%", escape="\\"))
    return out or [true()]


async def _page(
    tx: Transaction,
    table: Table,
    columns: Sequence[Any],
    where: list[Any],
    order: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    total = int(await tx.scalar(select(func.count()).select_from(table).where(*where)))
    ordering = [table.c[k].desc() if d else table.c[k].asc() for k, d in order]
    rows = await tx.execute(
        select(*columns).where(*where).order_by(*ordering).limit(limit).offset(offset)
    )
    return rows.mappings(), total


async def list_variables(
    db: Database,
    *,
    key_pattern: str | None,
    key_prefix: str | None,
    order: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[StoredVariable], int]:
    async def body(tx: Transaction) -> tuple[list[StoredVariable], int]:
        where = _where(variable.c.key, key_pattern, key_prefix)
        rows, total = await _page(tx, variable, _VARIABLE_COLUMNS, where, order, limit, offset)
        return [_stored_variable(r) for r in rows], total

    return await db.run(body, write=False)


async def get_variable(db: Database, key: str) -> StoredVariable | None:
    async def body(tx: Transaction) -> StoredVariable | None:
        rows = (
            await tx.execute(select(*_VARIABLE_COLUMNS).where(variable.c.key == key))
        ).mappings()
        return _stored_variable(rows[0]) if rows else None

    return await db.run(body, write=False)


async def list_connections(
    db: Database,
    *,
    id_pattern: str | None,
    id_prefix: str | None,
    order: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[StoredConnection], int]:
    async def body(tx: Transaction) -> tuple[list[StoredConnection], int]:
        where = _where(connection.c.conn_id, id_pattern, id_prefix)
        rows, total = await _page(tx, connection, _CONNECTION_COLUMNS, where, order, limit, offset)
        return [_stored_connection(r) for r in rows], total

    return await db.run(body, write=False)


async def get_connection(db: Database, conn_id: str) -> StoredConnection | None:
    async def body(tx: Transaction) -> StoredConnection | None:
        rows = (
            await tx.execute(select(*_CONNECTION_COLUMNS).where(connection.c.conn_id == conn_id))
        ).mappings()
        return _stored_connection(rows[0]) if rows else None

    return await db.run(body, write=False)
