"""Native asyncio adapter: SQLAlchemy's asyncio extension on asyncpg (PostgreSQL, asyncio only).

The only module that imports `sqlalchemy.ext.asyncio`. Cancellation reaches asyncpg directly,
which cancels the running statement on the server, so no deadline translation is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import Executable

from airflow_sc.db._threaded import milliseconds
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

#: Seconds a rollback or a connection close may take before the connection is given up on.
CLEANUP_GRACE = 5.0
#: Seconds disposing of the pool may take on close.
CLOSE_GRACE = 10.0
#: How often the server checks, during a long statement, that the client is still there.
CLIENT_CHECK_INTERVAL_MS = "500"


class NativeDatabase(Database):
    """`Database` over an `AsyncEngine` with asyncpg; see the module docstring."""

    adapter: AdapterName = "native"

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
        self._pool_size = pool_size
        self._engine: AsyncEngine = create_async_engine(
            url.asyncio_url,
            pool_size=pool_size,
            max_overflow=0,
            # No ping per checkout (a round trip per transaction): a connection the server
            # dropped fails its first statement as a transient error, SQLAlchemy recycles
            # the pool's older connections, and `Database.run` retries on a fresh one.
            pool_pre_ping=False,
            isolation_level="READ COMMITTED",
            connect_args={
                "server_settings": {
                    "application_name": application_name,
                    "statement_timeout": str(milliseconds(statement_timeout)),
                    # A cancelled statement's connection is discarded, not cancelled on the
                    # server: let the server notice the client is gone (PostgreSQL 14+).
                    "client_connection_check_interval": CLIENT_CHECK_INTERVAL_MS,
                },
            },
        )
        # Waiting for a connection is cancellable and unbounded here (the caller owns the
        # timeout) instead of failing after the pool's own checkout timeout.
        self._slots = anyio.CapacityLimiter(pool_size)
        self._transactions = 0
        self._retries = 0
        self._closed = False

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Transaction]:
        if self._closed:
            raise RuntimeError("the database is closed")
        async with self._slots:
            conn = self._engine.connect()
            await conn.start()  # a failed checkout leaves nothing to clean up
            try:
                await conn.begin()
                self._transactions += 1
                yield _NativeTransaction(self, conn)
                await conn.commit()
            except BaseException:
                await _rollback(conn)
                raise
            finally:
                with anyio.move_on_after(CLEANUP_GRACE, shield=True):
                    await conn.close()

    def record_retry(self) -> None:
        self._retries += 1

    def statistics(self) -> DatabaseStatistics:
        pool = self._engine.pool
        return DatabaseStatistics(
            adapter=self.adapter,
            dialect=self.dialect,
            pool_size=self._pool_size,
            checked_out=pool.checkedout() if isinstance(pool, QueuePool) else 0,
            transactions=self._transactions,
            retries=self._retries,
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(CLOSE_GRACE, shield=True):
            await self._engine.dispose()


async def _rollback(conn: AsyncConnection) -> None:
    """Roll back shielded and bounded; a connection that cannot roll back is discarded."""
    if conn.closed or conn.sync_connection is None:
        return
    with anyio.move_on_after(CLEANUP_GRACE, shield=True) as scope:
        try:
            await conn.rollback()
        except Exception:
            await conn.invalidate()
            return
    if scope.cancelled_caught:
        with anyio.move_on_after(CLEANUP_GRACE, shield=True):
            await conn.invalidate()


class _NativeTransaction(Transaction):
    def __init__(self, db: NativeDatabase, conn: AsyncConnection) -> None:
        self.dialect = db.dialect
        self._conn = conn

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        result = await self._conn.execute(statement, parameters)
        rows = list(result.all()) if result.returns_rows else []
        return Rows(rows, result.rowcount)
