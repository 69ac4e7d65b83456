"""Retrying whole transactions on transient database errors.

`is_transient` and `retry_delay` are the pure policy; `run_with_retry` is the thin async loop
behind `Database.run`. Only errors where running the same transaction again can succeed are
retried: SQLite busy/locked, PostgreSQL serialization failures and deadlocks, and lost or
refused connections. Everything else propagates at once.

How long to keep trying is the caller's `RetryPolicy`: a bounded number of attempts for a
request or a CLI command (`DEFAULT_RETRY`, about 1.5 s), or for as long as the error stays
transient (`OUTAGE_RETRY`, what the long-running components use: a database restart or
failover is waited out, with capped exponential backoff and jitter). A caller still bounds
the total time with a cancel scope.

Every attempt also tells the database's `Reachability` whether a connection could be made,
so the health route, the API and housekeeping know when the database was out of reach.

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

from airflow_sc.db.errors import describe_cause

if TYPE_CHECKING:
    from airflow_sc.db.database import Database, Transaction

__all__ = [
    "DEFAULT_RETRY",
    "OUTAGE_RETRY",
    "PROBE_RETRY",
    "RetryCounting",
    "RetryPolicy",
    "backoff_delay",
    "is_connection_loss",
    "is_transient",
    "retry_delay",
    "run_with_retry",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
# PostgreSQL SQLSTATEs where the same transaction can succeed when run again.
_PG_CONTENTION = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
    }
)
_PG_SERVER_GONE = frozenset(
    {
        "57P01",  # admin_shutdown (pg_terminate_backend, server restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting up)
    }
)
_PG_RETRYABLE = _PG_CONTENTION | _PG_SERVER_GONE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry: `attempts` counts the first try; None retries
    for as long as the error is transient (an outage is waited out)."""

    attempts: int | None = 6
    base_delay: float = 0.05
    max_delay: float = 1.0


#: Requests and CLI commands: give up after about 1.5 s (the API then answers 503).
DEFAULT_RETRY = RetryPolicy()
#: Long-running components: retry until the database answers, at least every 2 s.
OUTAGE_RETRY = RetryPolicy(attempts=None, base_delay=0.05, max_delay=2.0)
#: A quick probe (the health route): three attempts within about 0.2 s, so a deadlock or a
#: busy moment is not reported as an outage, and an outage is reported at once.
PROBE_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)


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


def is_connection_loss(exc: BaseException) -> bool:
    """True when `exc` says the database could not be reached (refused, lost, shut down),
    as opposed to contention (SQLite busy, a deadlock, a serialization failure)."""
    if isinstance(exc, BaseExceptionGroup):
        return any(is_connection_loss(inner) for inner in exc.exceptions)
    if not is_transient(exc):
        return False
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, sqlite3.Error):
            return False
        return getattr(exc.orig, "sqlstate", None) not in _PG_CONTENTION
    return True


def retry_delay(
    attempt: int, policy: RetryPolicy, exc: BaseException, jitter: float
) -> float | None:
    """Seconds to wait before attempt `attempt + 1` after `exc` failed attempt `attempt`,
    or None to give up and raise `exc`."""
    if not is_transient(exc):
        return None
    if policy.attempts is not None and attempt >= policy.attempts:
        return None
    return backoff_delay(attempt, policy, jitter)


def backoff_delay(attempt: int, policy: RetryPolicy, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential, capped, with "equal jitter": half the step is fixed, half is spread by
    `jitter` in [0, 1) so that colliding transactions do not collide again in lockstep.
    """
    # The exponent is capped too: an outage can run to thousands of attempts.
    step = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 60))
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
                result = await body(tx)
        except Exception as exc:
            if is_connection_loss(exc):
                _record_failure(db, exc, policy)
            delay = retry_delay(attempt, policy, exc, random.random())
            if delay is None:
                raise
            log.debug(
                "transient database error on attempt %d, retrying in %.3fs: %s", attempt, delay, exc
            )
        else:
            _record_success(db)
            return result
        if isinstance(db, RetryCounting):
            db.record_retry()
        await sleep(delay)
        attempt += 1


def _record_failure(db: Database, exc: BaseException, policy: RetryPolicy) -> None:
    error = describe_cause(exc)
    if db.reachability.record_failure(anyio.current_time(), error) == "lost":
        patience = (
            "retrying with backoff until it answers"
            if policy.attempts is None
            else "requests answer 503 until it answers"
        )
        log.warning("the metadata database is unreachable (%s); %s", error, patience)


def _record_success(db: Database) -> None:
    reachability = db.reachability
    if reachability.reachable:
        return
    now = anyio.current_time()
    since = reachability.snapshot().unreachable_since
    if reachability.record_success(now) == "recovered" and since is not None:
        log.warning("the metadata database answers again, after %.1f s out of reach", now - since)
