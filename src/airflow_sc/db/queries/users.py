"""Rows of the `user` table (API and UI users)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.listing import OrderColumns, each_row, name_clauses, order_clauses, read_page
from airflow_sc.db.models import user
from airflow_sc.domain.listing import Listing, NamePattern, Page

__all__ = [
    "USER_ORDER_KEYS",
    "StoredUser",
    "count_users",
    "delete_user",
    "get_user",
    "insert_user",
    "insert_user_if_none",
    "list_users",
    "set_password_hash",
]


@dataclass(frozen=True, slots=True)
class StoredUser:
    username: str
    password_hash: str
    role: str
    created_at: datetime


_COLUMNS = (user.c.username, user.c.password_hash, user.c.role, user.c.created_at)


async def get_user(db: Database, username: str) -> StoredUser | None:
    async def body(tx: Transaction) -> StoredUser | None:
        row = (await tx.execute(select(*_COLUMNS).where(user.c.username == username))).first()
        return None if row is None else StoredUser(**row._mapping)

    return await db.run(body, write=False)


_ORDER_COLUMNS: OrderColumns = {
    "username": user.c.username,
    "role": user.c.role,
    "created_at": user.c.created_at,
    "id": user.c.id,
}
#: Attributes a user listing sorts by.
USER_ORDER_KEYS = tuple(_ORDER_COLUMNS)


async def list_users(db: Database, username: NamePattern, listing: Listing) -> Page[StoredUser]:
    """Users whose name matches `username`, one page of them."""
    query = (
        select(*_COLUMNS)
        .where(*name_clauses(user.c.username, username))
        .order_by(*order_clauses(listing, _ORDER_COLUMNS, [user.c.id]))
    )

    return await read_page(db, query, listing, each_row(lambda r: StoredUser(**r._mapping)))


async def count_users(db: Database) -> int:
    async def body(tx: Transaction) -> int:
        return int(await tx.scalar(select(func.count()).select_from(user)))

    return await db.run(body, write=False)


async def insert_user(db: Database, row: StoredUser) -> bool:
    """Add a user; False when the username is taken."""

    async def body(tx: Transaction) -> bool:
        if await tx.scalar(select(user.c.id).where(user.c.username == row.username)):
            return False
        await tx.execute(insert(user).values(**_values(row)))
        return True

    try:
        return await db.run(body)
    except IntegrityError:  # a concurrent insert of the same name won
        return False


async def insert_user_if_none(db: Database, row: StoredUser) -> bool:
    """Add `row` only if the table is empty (one transaction); whether it was added."""

    async def body(tx: Transaction) -> bool:
        if await tx.scalar(select(func.count()).select_from(user)):
            return False
        await tx.execute(insert(user).values(**_values(row)))
        return True

    try:
        return await db.run(body)
    except IntegrityError:
        return False


async def set_password_hash(db: Database, username: str, password_hash: str) -> bool:
    """False when there is no such user."""

    async def body(tx: Transaction) -> bool:
        result = await tx.execute(
            update(user).where(user.c.username == username).values(password_hash=password_hash)
        )
        return result.rowcount > 0

    return await db.run(body)


async def delete_user(db: Database, username: str) -> bool:
    """False when there is no such user."""

    async def body(tx: Transaction) -> bool:
        result = await tx.execute(delete(user).where(user.c.username == username))
        return result.rowcount > 0

    return await db.run(body)


def _values(row: StoredUser) -> dict[str, object]:
    return {
        "username": row.username,
        "password_hash": row.password_hash,
        "role": row.role,
        "created_at": row.created_at,
    }
