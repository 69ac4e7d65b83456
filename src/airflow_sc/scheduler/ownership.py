"""One scheduler per SQLite database: an OS advisory lock held for the scheduler's lifetime.

SQLite silently ignores `FOR UPDATE`, so two schedulers on one SQLite file would queue the
same task instances. The first scheduler takes an exclusive `flock` on a lock file next to
the database (`<database>.scheduler.lock`) and writes its PID and host into it; a second one
refuses to start, naming the database and the holder. The kernel drops the lock when the
holding process exits, however it exits, so a crashed scheduler never blocks the next one.

PostgreSQL needs no such lock: several schedulers share one database through row locks.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio

from airflow_sc.db.url import DatabaseUrl

__all__ = [
    "LOCK_SUFFIX",
    "SchedulerAlreadyRunning",
    "SchedulerOwnership",
    "lock_path_for",
    "open_scheduler_ownership",
]

LOCK_SUFFIX = ".scheduler.lock"


class SchedulerAlreadyRunning(RuntimeError):
    """Another scheduler process holds the SQLite database."""

    def __init__(self, database: str, lock_path: Path, holder: str) -> None:
        self.database = database
        self.lock_path = lock_path
        self.holder = holder
        super().__init__(
            f"another scheduler already runs on the SQLite database {database} "
            f"(held by {holder or 'an unknown process'}; lock file {lock_path}). "
            "An SQLite database serves one scheduler: stop the other one, or use PostgreSQL "
            "to run several."
        )


@dataclass(frozen=True, slots=True)
class SchedulerOwnership:
    """What `open_scheduler_ownership` holds: the lock file, or None when none is needed."""

    lock_path: Path | None
    exclusive: bool


def lock_path_for(url: DatabaseUrl) -> Path | None:
    """The lock file guarding an SQLite database file; None for PostgreSQL or in-memory."""
    path = url.sqlite_path
    if path is None:
        return None
    return Path(path).expanduser().resolve().with_name(Path(path).name + LOCK_SUFFIX)


@asynccontextmanager
async def open_scheduler_ownership(url: str | DatabaseUrl) -> AsyncIterator[SchedulerOwnership]:
    """Own the database as its scheduler for the duration of the block.

    Raises `SchedulerAlreadyRunning` at once (it never waits) when another process owns
    the SQLite database. On PostgreSQL and in-memory SQLite it holds nothing.
    """
    parsed = url if isinstance(url, DatabaseUrl) else DatabaseUrl.parse(url)
    lock_path = lock_path_for(parsed)
    if lock_path is None:
        yield SchedulerOwnership(lock_path=None, exclusive=parsed.dialect == "sqlite")
        return
    handle = await anyio.to_thread.run_sync(_acquire_sync, lock_path, parsed.redacted())
    try:
        yield SchedulerOwnership(lock_path=lock_path, exclusive=True)
    finally:
        # Closing the descriptor releases the lock; the file stays (deleting it would let a
        # waiter lock an unlinked inode while a newcomer locks a fresh file).
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_release_sync, handle)


def _acquire_sync(lock_path: Path, database: str) -> IO[str]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise SchedulerAlreadyRunning(database, lock_path, holder) from None
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
    handle.flush()
    return handle


def _release_sync(handle: IO[str]) -> None:
    try:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
