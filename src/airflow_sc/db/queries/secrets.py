"""Rows of the `variable` and `connection` tables, as the secrets layer stores them.

Values arrive here already encrypted (or not, per the `is_*encrypted` flags): encryption
belongs to `airflow_sc.secrets`; this module only reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Executable

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import OrderColumns, each_row, name_clauses, order_clauses, read_page
from airflow_sc.db.models import connection, variable
from airflow_sc.domain.listing import Listing, NamePattern, Page

__all__ = [
    "CONNECTION_ORDER_KEYS",
    "VARIABLE_ORDER_KEYS",
    "StoredConnection",
    "StoredVariable",
    "delete_connection",
    "delete_variable",
    "get_connection",
    "get_variable",
    "list_connections",
    "list_variables",
    "put_connection",
    "put_variable",
    "rewrite_connections",
    "rewrite_variables",
]


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """A `connection` row; `password` / `extra` are ciphertext when the flags say so."""

    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None
    is_encrypted: bool = False
    is_extra_encrypted: bool = False


@dataclass(frozen=True, slots=True)
class StoredVariable:
    """A `variable` row; `val` is ciphertext when `is_encrypted`."""

    key: str
    val: str | None
    description: str | None = None
    is_encrypted: bool = False


R = TypeVar("R")

_CONNECTION_COLUMNS = [connection.c[f.name] for f in fields(StoredConnection)]
_VARIABLE_COLUMNS = [variable.c[f.name] for f in fields(StoredVariable)]


def _stored_connection(row: RowMapping) -> StoredConnection:
    return StoredConnection(**{f.name: row[f.name] for f in fields(StoredConnection)})


def _stored_variable(row: RowMapping) -> StoredVariable:
    return StoredVariable(**{f.name: row[f.name] for f in fields(StoredVariable)})


async def get_connection(db: Database, conn_id: str) -> StoredConnection | None:
    async def body(tx: Transaction) -> StoredConnection | None:
        rows = await tx.execute(select(*_CONNECTION_COLUMNS).where(connection.c.conn_id == conn_id))
        found = rows.mappings()
        return _stored_connection(found[0]) if found else None

    return await db.run(body, write=False)


async def get_variable(db: Database, key: str) -> StoredVariable | None:
    async def body(tx: Transaction) -> StoredVariable | None:
        rows = await tx.execute(select(*_VARIABLE_COLUMNS).where(variable.c.key == key))
        found = rows.mappings()
        return _stored_variable(found[0]) if found else None

    return await db.run(body, write=False)


_CONNECTION_ORDER_COLUMNS: OrderColumns = {
    "conn_id": connection.c.conn_id,
    "conn_type": connection.c.conn_type,
    "description": connection.c.description,
    "host": connection.c.host,
    "port": connection.c.port,
    "id": connection.c.id,
    # airflow-sc has no teams: every team_name is null.
    "team_name": None,
    "connection_id": connection.c.conn_id,
}
#: Attributes a connection listing sorts by (Airflow's names, in its order).
CONNECTION_ORDER_KEYS = tuple(_CONNECTION_ORDER_COLUMNS)

_VARIABLE_ORDER_COLUMNS: OrderColumns = {
    "key": variable.c.key,
    "id": variable.c.id,
    "_val": variable.c.val,
    "description": variable.c.description,
    "is_encrypted": variable.c.is_encrypted,
    "team_name": None,
}
#: Attributes a variable listing sorts by (Airflow's names, in its order).
VARIABLE_ORDER_KEYS = tuple(_VARIABLE_ORDER_COLUMNS)


async def list_connections(
    db: Database, conn_id: NamePattern, listing: Listing
) -> Page[StoredConnection]:
    """Connection rows whose id matches `conn_id`, one page of them."""
    query = (
        select(*_CONNECTION_COLUMNS)
        .where(*name_clauses(connection.c.conn_id, conn_id))
        .order_by(*order_clauses(listing, _CONNECTION_ORDER_COLUMNS, [connection.c.id]))
    )

    return await read_page(db, query, listing, each_row(lambda r: _stored_connection(r._mapping)))


async def list_variables(db: Database, key: NamePattern, listing: Listing) -> Page[StoredVariable]:
    """Variable rows whose key matches `key`, one page of them."""
    query = (
        select(*_VARIABLE_COLUMNS)
        .where(*name_clauses(variable.c.key, key))
        .order_by(*order_clauses(listing, _VARIABLE_ORDER_COLUMNS, [variable.c.id]))
    )

    return await read_page(db, query, listing, each_row(lambda r: _stored_variable(r._mapping)))


def _upsert(tx: Transaction, table: Any, values: dict[str, Any], key: str) -> Executable:
    insert = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    changed = {name: statement.excluded[name] for name in values if name != key}
    return statement.on_conflict_do_update(index_elements=[table.c[key]], set_=changed)


async def put_connection(db: Database, row: StoredConnection) -> None:
    """Insert or replace the connection `row.conn_id`."""

    async def body(tx: Transaction) -> None:
        await tx.execute(_upsert(tx, connection, asdict(row), "conn_id"))

    await db.run(body)


async def put_variable(db: Database, row: StoredVariable) -> None:
    """Insert or replace the variable `row.key`."""

    async def body(tx: Transaction) -> None:
        await tx.execute(_upsert(tx, variable, asdict(row), "key"))

    await db.run(body)


async def delete_connection(db: Database, conn_id: str) -> bool:
    """Delete a connection; False when there was none."""

    async def body(tx: Transaction) -> bool:
        result = await tx.execute(delete(connection).where(connection.c.conn_id == conn_id))
        return result.rowcount > 0

    return await db.run(body)


async def delete_variable(db: Database, key: str) -> bool:
    """Delete a variable; False when there was none."""

    async def body(tx: Transaction) -> bool:
        result = await tx.execute(delete(variable).where(variable.c.key == key))
        return result.rowcount > 0

    return await db.run(body)


async def rewrite_connections(
    db: Database, transform: Callable[[StoredConnection], StoredConnection]
) -> int:
    """Pass every connection row through `transform` in one transaction; rows changed.

    Rows are locked while rewritten (PostgreSQL `FOR UPDATE`; SQLite holds the write lock),
    so a concurrent writer cannot slip a row in under the old encryption.
    """

    async def body(tx: Transaction) -> int:
        rows = await tx.execute(
            select(*_CONNECTION_COLUMNS).order_by(connection.c.conn_id).with_for_update()
        )
        before = [_stored_connection(row) for row in rows.mappings()]
        changed = _changed(before, transform)
        if changed:
            await tx.execute(
                update(connection)
                .where(connection.c.conn_id == bindparam("b_conn_id"))
                .values(
                    password=bindparam("b_password"),
                    extra=bindparam("b_extra"),
                    is_encrypted=bindparam("b_is_encrypted"),
                    is_extra_encrypted=bindparam("b_is_extra_encrypted"),
                ),
                [
                    {
                        "b_conn_id": row.conn_id,
                        "b_password": row.password,
                        "b_extra": row.extra,
                        "b_is_encrypted": row.is_encrypted,
                        "b_is_extra_encrypted": row.is_extra_encrypted,
                    }
                    for row in changed
                ],
            )
        return len(changed)

    return await db.run(body)


async def rewrite_variables(
    db: Database, transform: Callable[[StoredVariable], StoredVariable]
) -> int:
    """Pass every variable row through `transform` in one transaction; rows changed."""

    async def body(tx: Transaction) -> int:
        rows = await tx.execute(
            select(*_VARIABLE_COLUMNS).order_by(variable.c.key).with_for_update()
        )
        before = [_stored_variable(row) for row in rows.mappings()]
        changed = _changed(before, transform)
        if changed:
            await tx.execute(
                update(variable)
                .where(variable.c.key == bindparam("b_key"))
                .values(val=bindparam("b_val"), is_encrypted=bindparam("b_is_encrypted")),
                [
                    {"b_key": row.key, "b_val": row.val, "b_is_encrypted": row.is_encrypted}
                    for row in changed
                ],
            )
        return len(changed)

    return await db.run(body)


def _changed(rows: Iterable[R], transform: Callable[[R], R]) -> list[R]:
    out: list[R] = []
    for row in rows:
        after = transform(row)
        if after != row:
            out.append(after)
    return out
