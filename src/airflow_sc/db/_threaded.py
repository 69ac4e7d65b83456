"""Thread-offload adapter: a sync SQLAlchemy engine (sqlite3 or psycopg 3) behind worker threads.

Runs on asyncio and trio. Every database call goes through `anyio.to_thread.run_sync` under a
capacity limiter of `pool_size`; a second limiter of the same size bounds open transactions,
so a pool checkout never blocks a worker thread waiting for a free connection.

A worker thread cannot be interrupted once a statement runs. When the calling task has a
finite anyio deadline, the statement is bounded by it instead: PostgreSQL through a
transaction-local `statement_timeout`, SQLite through a progress handler. Cancellation then
returns promptly (just after the deadline) and surfaces as cancellation, not as the driver's
"query cancelled" error.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool, StaticPool
from sqlalchemy.sql import Executable

from airflow_sc.db.database import (
    AdapterName,
    Database,
    DatabaseStatistics,
    Parameters,
    Rows,
    Transaction,
)
from airflow_sc.db.reachability import Reachability
from airflow_sc.db.retry import DEFAULT_RETRY, RetryPolicy
from airflow_sc.db.url import DatabaseUrl

T = TypeVar("T")

#: Seconds a rollback (or commit cleanup) may take before the connection is given up on.
CLEANUP_GRACE = 5.0
#: Seconds disposing of the pool may take on close.
CLOSE_GRACE = 10.0
#: A deadline-derived statement limit fires this much after the anyio deadline, so that the
#: task is already cancelled when the driver reports the interrupted statement.
DEADLINE_MARGIN = 0.05
#: SQLite progress handler granularity (virtual machine instructions between checks).
_PROGRESS_STEPS = 1000

_SET_STATEMENT_TIMEOUT = text("SELECT set_config('statement_timeout', :limit, true)")


class ThreadedDatabase(Database):
    """`Database` over a sync engine; see the module docstring."""

    adapter: AdapterName = "thread"

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        pool_size: int,
        statement_timeout: float,
        application_name: str,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.url = url
        self.retry_policy = retry
        self.reachability = Reachability()
        in_memory = url.dialect == "sqlite" and url.sqlite_path is None
        # An in-memory SQLite database lives in one connection: share it, one user at a time.
        self._pool_size = 1 if in_memory else pool_size
        self._statement_timeout = statement_timeout
        self._engine = create_sync_engine(
            url,
            pool_size=self._pool_size,
            statement_timeout=statement_timeout,
            application_name=application_name,
        )
        self._threads = anyio.CapacityLimiter(self._pool_size)
        self._slots = anyio.CapacityLimiter(self._pool_size)
        # SQLite has one writer at a time: queue writers here instead of in the busy handler.
        self._write_lock = anyio.Lock() if url.dialect == "sqlite" else None
        self._transactions = 0
        self._retries = 0
        self._closed = False

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        return self._transaction(write)

    @asynccontextmanager
    async def _transaction(self, write: bool) -> AsyncIterator[Transaction]:
        if self._closed:
            raise RuntimeError("the database is closed")
        write_lock = self._write_lock if write else None
        if write_lock is not None:
            await write_lock.acquire()
        try:
            async with self._slots:
                # Begin and commit are shielded: a cancellation that arrived while the thread
                # ran (or before it started) would otherwise lose the connection, and with
                # it SQLite's write lock, until the pool noticed.
                with anyio.CancelScope(shield=True):
                    conn = await self.offload(partial(self._begin_sync, write))
                self._transactions += 1
                tx = _ThreadedTransaction(self, conn)
                try:
                    await anyio.lowlevel.checkpoint_if_cancelled()
                    yield tx
                except BaseException:
                    await self._cleanup(partial(_rollback_and_close_sync, conn))
                    raise
                # On failure the thread has already rolled back and closed the connection.
                with anyio.CancelScope(shield=True):
                    await self.offload(partial(_commit_and_close_sync, conn))
                await anyio.lowlevel.checkpoint_if_cancelled()
        finally:
            if write_lock is not None:
                write_lock.release()

    async def offload(self, func: Callable[[], T]) -> T:
        """Run `func` in a worker thread; cancellation waits for it to finish."""
        return await anyio.to_thread.run_sync(func, limiter=self._threads)

    def _begin_sync(self, write: bool) -> Connection:
        conn = self._engine.connect()
        try:
            conn.begin()
            if self.url.dialect == "sqlite":
                # The driver runs in autocommit mode; the transaction starts here, taking the
                # write lock up front for writers so that it cannot fail half-way through.
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        except BaseException:
            conn.close()
            raise
        return conn

    async def _cleanup(self, func: Callable[[], None]) -> None:
        """Run a rollback-and-close shielded and bounded; past the grace, leave it to the thread.

        The thread still closes (or invalidates) the connection when the driver returns, so
        the connection always goes back to the pool.
        """
        with anyio.move_on_after(CLEANUP_GRACE, shield=True):
            await anyio.to_thread.run_sync(func, abandon_on_cancel=True)

    def statement_limit(self) -> float | None:
        """The caller's remaining time, when it is tighter than the configured statement timeout."""
        deadline = anyio.current_effective_deadline()
        if math.isinf(deadline) and deadline > 0:
            return None
        remaining = max(deadline - anyio.current_time(), 0.0)
        if remaining >= self._statement_timeout:
            return None
        return remaining + DEADLINE_MARGIN

    @property
    def configured_statement_timeout(self) -> float:
        return self._statement_timeout

    def record_retry(self) -> None:
        self._retries += 1

    def statistics(self) -> DatabaseStatistics:
        pool = self._engine.pool
        checked_out = pool.checkedout() if isinstance(pool, QueuePool) else 0
        if isinstance(pool, StaticPool):
            checked_out = self._pool_size - int(self._slots.available_tokens)
        return DatabaseStatistics(
            adapter=self.adapter,
            dialect=self.dialect,
            pool_size=self._pool_size,
            checked_out=checked_out,
            transactions=self._transactions,
            retries=self._retries,
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(CLOSE_GRACE, shield=True):
            await anyio.to_thread.run_sync(self._engine.dispose, abandon_on_cancel=True)


class _ThreadedTransaction(Transaction):
    def __init__(self, db: ThreadedDatabase, conn: Connection) -> None:
        self.dialect = db.dialect
        self._db = db
        self._conn = conn
        self._busy = False
        # A deadline-derived statement_timeout is transaction-local on PostgreSQL and
        # lingers; restore the configured one before a statement with no deadline.
        self._timeout_lowered = False

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        if self._busy:
            raise RuntimeError("a transaction runs one statement at a time")
        limit = self._db.statement_limit()
        run = partial(self._execute_sync, statement, parameters, limit, time.monotonic())
        self._busy = True
        try:
            return await self._db.offload(run)
        except DBAPIError:
            if limit is not None:
                # The statement was stopped because the deadline passed: report cancellation.
                await anyio.lowlevel.checkpoint_if_cancelled()
            raise
        finally:
            self._busy = False

    def _execute_sync(
        self, statement: Executable, parameters: Parameters, limit: float | None, now: float
    ) -> Rows:
        conn = self._conn
        if self.dialect == "postgresql":
            self._apply_statement_timeout_sync(limit)
            return _buffer(conn, statement, parameters)
        if limit is None:
            return _buffer(conn, statement, parameters)
        stop_at = now + limit
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.set_progress_handler(lambda: time.monotonic() > stop_at, _PROGRESS_STEPS)
        try:
            return _buffer(conn, statement, parameters)
        finally:
            dbapi.set_progress_handler(None, 0)

    def _apply_statement_timeout_sync(self, limit: float | None) -> None:
        if limit is None and not self._timeout_lowered:
            return
        seconds = self._db.configured_statement_timeout if limit is None else limit
        self._conn.execute(
            _SET_STATEMENT_TIMEOUT, {"limit": f"{max(1, math.ceil(seconds * 1000))}ms"}
        )
        self._timeout_lowered = limit is not None


def _buffer(conn: Connection, statement: Executable, parameters: Parameters) -> Rows:
    result = conn.execute(statement, parameters)
    rows = list(result.all()) if result.returns_rows else []
    return Rows(rows, result.rowcount)


def _commit_and_close_sync(conn: Connection) -> None:
    try:
        conn.commit()
    except BaseException:
        _rollback_and_close_sync(conn)
        raise
    conn.close()


def _rollback_and_close_sync(conn: Connection) -> None:
    try:
        conn.rollback()
    except Exception:
        # The connection is in an unknown state: never hand it to the next user.
        conn.invalidate()
    finally:
        conn.close()


def milliseconds(seconds: float) -> int:
    """A positive duration in whole milliseconds, rounded up (PostgreSQL reads 0 as "none")."""
    return max(1, math.ceil(seconds * 1000))


def create_sync_engine(
    url: DatabaseUrl, *, pool_size: int, statement_timeout: float, application_name: str
) -> Engine:
    """The sync engine behind the thread adapter (also usable for migrations)."""
    if url.dialect == "sqlite":
        return _create_sqlite_engine(url, pool_size=pool_size, busy_timeout=statement_timeout)
    return create_engine(
        url.sync_url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0,
        # No ping per checkout; a dropped connection is a transient error `Database.run`
        # retries (see `_native.py`).
        pool_pre_ping=False,
        isolation_level="READ COMMITTED",
        connect_args={
            "application_name": application_name,
            # client_connection_check_interval: a discarded connection's statement stops
            # soon on the server too (PostgreSQL 14+).
            "options": (
                f"-c statement_timeout={milliseconds(statement_timeout)}"
                " -c client_connection_check_interval=500"
            ),
            # A connect attempt in a worker thread cannot be cancelled: bound it here.
            "connect_timeout": max(2, math.ceil(min(statement_timeout, 10.0))),
        },
    )


def _create_sqlite_engine(url: DatabaseUrl, *, pool_size: int, busy_timeout: float) -> Engine:
    in_memory = url.sqlite_path is None
    engine = create_engine(
        url.sync_url,
        poolclass=StaticPool if in_memory else QueuePool,
        connect_args={"check_same_thread": False},
        **({} if in_memory else {"pool_size": pool_size, "max_overflow": 0}),
    )
    busy_ms = milliseconds(busy_timeout)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Autocommit at the driver level: transactions are begun explicitly (BEGIN IMMEDIATE
        # for writers) instead of by the driver's implicit, deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return engine
