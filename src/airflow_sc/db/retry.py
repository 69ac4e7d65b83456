"""Retrying whole transactions on transient database errors.

`is_transient` is the pure classification; `run_with_retry` is the thin async loop behind
`Database.run`. Only errors where running the same transaction again can succeed are
retried: SQLite busy/locked, PostgreSQL serialization failures and deadlocks, and lost or
refused connections. Everything else propagates at once. The number of attempts is bounded;
the caller bounds the total time with a cancel scope.

A retry after a connection was lost *during COMMIT* may run a transaction whose first commit
in fact succeeded; bodies that must not apply twice should be idempotent.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import anyio
from sqlalchemy.exc import DBAPIError, OperationalError

if TYPE_CHECKING:
    from airflow_sc.db.database import Database, Transaction

__all__ = [
    "DEFAULT_RETRY",
    "RetryCounting",
    "RetryPolicy",
    "backoff_delay",
    "is_transient",
    "run_with_retry",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
# PostgreSQL SQLSTATEs where the same transaction can succeed when run again.
_PG_RETRYABLE = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown (pg_terminate_backend, server restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting up)
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry: `attempts` counts the first try."""

    attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 1.0


DEFAULT_RETRY = RetryPolicy()


@runtime_checkable
class RetryCounting(Protocol):
    """A database that counts retries for its `statistics()` (both adapters do)."""

    def record_retry(self) -> None: ...


def is_transient(exc: BaseException) -> bool:
    """True when running the failed transaction again may succeed.

    Cancellation and other `BaseException`s are never transient. An exception group is
    transient when every exception in it is.
    """
    if isinstance(exc, BaseExceptionGroup):
        return all(is_transient(inner) for inner in exc.exceptions)
    if not isinstance(exc, Exception):
        return False
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return _is_transient_driver_error(exc.orig, operational=isinstance(exc, OperationalError))
    # asyncpg reports a refused or reset connection as a plain OSError.
    return isinstance(exc, ConnectionError)


def _is_transient_driver_error(orig: BaseException | None, *, operational: bool) -> bool:
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
        return "locked" in str(orig) or "busy" in str(orig)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        # Class 08: connection exception (refused, lost, rejected).
        return sqlstate in _PG_RETRYABLE or sqlstate.startswith("08")
    # psycopg reports a failed or lost connection as an OperationalError with no SQLSTATE:
    # the server never answered, so the statement never ran.
    return operational and orig is not None


def backoff_delay(attempt: int, policy: RetryPolicy, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential, capped, with "equal jitter": half the step is fixed, half is spread by
    `jitter` in [0, 1) so that colliding transactions do not collide again in lockstep.
    """
    step = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    return step / 2 + step / 2 * jitter


async def run_with_retry(
    db: Database,
    body: Callable[[Transaction], Awaitable[T]],
    *,
    write: bool,
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Run `body(tx)` in a fresh transaction, running it again on transient errors."""
    attempt = 1
    while True:
        try:
            async with db.transaction(write=write) as tx:
                return await body(tx)
        except Exception as exc:
            if attempt >= policy.attempts or not is_transient(exc):
                raise
            delay = backoff_delay(attempt, policy, random.random())
            log.debug(
                "transient database error on attempt %d, retrying in %.3fs: %s", attempt, delay, exc
            )
        if isinstance(db, RetryCounting):
            db.record_retry()
        await sleep(delay)
        attempt += 1
