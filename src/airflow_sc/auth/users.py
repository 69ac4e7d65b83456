"""Users of the API and UI: create, authenticate, list, delete, reset passwords.

Password hashing is CPU work of tens of milliseconds; it runs in a worker thread so that
an event loop serving requests is not stalled by a login.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import anyio

from airflow_sc.auth.passwords import generate_password, hash_password, verify_password
from airflow_sc.auth.roles import Role
from airflow_sc.auth.tokens import credential_stamp
from airflow_sc.db import Database
from airflow_sc.db.queries import users as queries
from airflow_sc.domain.listing import Listing, NamePattern, OrderField

__all__ = [
    "ADMIN_PASSWORD_FILE",
    "User",
    "UserError",
    "authenticate",
    "create_user",
    "current_stamp",
    "delete_user",
    "ensure_admin_user",
    "get_user",
    "list_users",
    "reset_password",
]

ADMIN_PASSWORD_FILE: Final = "admin_password.txt"
_USERNAME: Final = re.compile(r"^[A-Za-z0-9_.@+-]{1,256}$")
_ANY: Final = NamePattern()
_BY_USERNAME: Final = Listing((OrderField("username"),), limit=None)


class UserError(Exception):
    """A user operation was refused (bad name, taken name, unknown user, bad role)."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    created_at: datetime
    #: What the user's tokens carry (`credential_stamp`); changes with role or password.
    stamp: str


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: queries.StoredUser) -> User:
    return User(
        row.username, Role(row.role), row.created_at, credential_stamp(row.role, row.password_hash)
    )


def check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise UserError(
            f"invalid username {username!r}: use 1-256 letters, digits or _.@+- characters"
        )


def check_password(password: str) -> None:
    if not password:
        raise UserError("the password must not be empty")


async def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role,
    *,
    clock: Callable[[], datetime] = _now,
) -> User:
    check_username(username)
    check_password(password)
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    row = queries.StoredUser(username, password_hash, role.value, clock())
    if not await queries.insert_user(db, row):
        raise UserError(f"user {username!r} already exists")
    return _user(row)


async def authenticate(db: Database, username: str, password: str) -> User | None:
    """The user if `password` is theirs, else None (unknown users take as long as known ones)."""
    row = await queries.get_user(db, username)
    stored = None if row is None else row.password_hash
    ok = await anyio.to_thread.run_sync(_check_password, password, stored)
    return _user(row) if ok and row is not None else None


async def get_user(db: Database, username: str) -> User | None:
    row = await queries.get_user(db, username)
    return None if row is None else _user(row)


async def current_stamp(db: Database, username: str) -> str | None:
    """The user's credential stamp now; None when there is no such user."""
    row = await queries.get_user(db, username)
    return None if row is None else credential_stamp(row.role, row.password_hash)


async def list_users(
    db: Database, username: NamePattern = _ANY, listing: Listing = _BY_USERNAME
) -> list[User]:
    """Users whose name matches `username` (by default all, by name)."""
    page = await queries.list_users(db, username, listing)
    return [_user(row) for row in page.items]


async def delete_user(db: Database, username: str) -> None:
    if not await queries.delete_user(db, username):
        raise UserError(f"no user {username!r}")


async def reset_password(db: Database, username: str, password: str) -> None:
    check_password(password)
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    if not await queries.set_password_hash(db, username, password_hash):
        raise UserError(f"no user {username!r}")


async def ensure_admin_user(
    db: Database, home: Path, *, clock: Callable[[], datetime] = _now
) -> Path | None:
    """On a deployment with no user, create `admin` with a random password.

    The password is written to `<home>/admin_password.txt` (mode 0600) and that path is
    returned; None when users already exist (nothing is changed then).
    """
    if await queries.count_users(db):
        return None
    password = generate_password()
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    # Write the file first: an admin whose password is lost would lock everyone out.
    path = await anyio.to_thread.run_sync(_write_private, home, password + "\n")
    row = queries.StoredUser("admin", password_hash, Role.ADMIN.value, clock())
    if not await queries.insert_user_if_none(db, row):
        return None  # another process created the first user meanwhile
    return path


def _write_private(home: Path, text: str) -> Path:
    path = home.expanduser() / ADMIN_PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    return path


def _check_password(password: str, stored: str | None) -> bool:
    # Hash against a dummy when the user is unknown: response time does not reveal names.
    return verify_password(password, stored if stored is not None else _dummy_hash())


@functools.cache
def _dummy_hash() -> str:
    return hash_password(generate_password())
