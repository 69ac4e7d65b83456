"""Opening the metadata database: choose an adapter, check the database answers, dispose on exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import anyio
import sniffio
from sqlalchemy import text

from airflow_sc.db.database import AdapterName, Database
from airflow_sc.db.errors import DatabaseUnavailable
from airflow_sc.db.retry import DEFAULT_RETRY, RetryPolicy, is_transient
from airflow_sc.db.url import DatabaseUrl, Dialect

__all__ = ["AdapterChoice", "choose_adapter", "open_database"]

AdapterChoice = Literal["auto", "native", "thread"]

#: Seconds disposing of the pool may take when the database is closed.
CLOSE_GRACE = 10.0


def choose_adapter(requested: AdapterChoice, *, dialect: Dialect, backend: str) -> AdapterName:
    """The adapter for a database on an async backend (`asyncio` or `trio`).

    `auto` picks the native adapter for PostgreSQL on asyncio and the thread adapter
    otherwise: asyncpg needs asyncio, and sqlite3 behind a worker thread is cheaper than an
    async SQLite driver on either backend.
    """
    native_possible = dialect == "postgresql" and backend == "asyncio"
    if requested == "auto":
        return "native" if native_possible else "thread"
    if requested == "native" and not native_possible:
        raise ValueError(
            f"the native database adapter needs PostgreSQL on asyncio; "
            f"got {dialect} on {backend} (use adapter='thread' or 'auto')"
        )
    return requested


@asynccontextmanager
async def open_database(
    url: str,
    *,
    pool_size: int = 5,
    statement_timeout: float = 30.0,
    adapter: AdapterChoice = "auto",
    application_name: str = "airflow-sc",
    connect_wait: float = 5.0,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> AsyncIterator[Database]:
    """Open the metadata database at `url` (`sqlite:///path` or `postgresql://...`).

    On entry, waits until the database answers a `SELECT 1`, retrying connection errors
    with backoff for up to `connect_wait` seconds, then raises `DatabaseUnavailable`.
    `statement_timeout` (seconds) bounds each PostgreSQL statement and is SQLite's busy
    timeout. `retry` is how `Database.run` retries transient errors (`OUTAGE_RETRY` for a
    long-running process: it waits out an outage). The pool is disposed on exit, shielded
    and bounded.
    """
    parsed = DatabaseUrl.parse(url)
    chosen = choose_adapter(
        adapter, dialect=parsed.dialect, backend=sniffio.current_async_library()
    )
    db = _create(
        chosen,
        parsed,
        pool_size=pool_size,
        statement_timeout=statement_timeout,
        application_name=application_name,
        retry=retry,
    )
    try:
        await _wait_reachable(db, connect_wait)
        yield db
    finally:
        with anyio.move_on_after(CLOSE_GRACE, shield=True):
            await db.aclose()


def _create(
    adapter: AdapterName,
    url: DatabaseUrl,
    *,
    pool_size: int,
    statement_timeout: float,
    application_name: str,
    retry: RetryPolicy,
) -> Database:
    if adapter == "native":
        # Imported here: asyncpg and the asyncio extension are needed only on this path.
        from airflow_sc.db._native import NativeDatabase

        return NativeDatabase(
            url,
            pool_size=pool_size,
            statement_timeout=statement_timeout,
            application_name=application_name,
            retry=retry,
        )
    from airflow_sc.db._threaded import ThreadedDatabase

    return ThreadedDatabase(
        url,
        pool_size=pool_size,
        statement_timeout=statement_timeout,
        application_name=application_name,
        retry=retry,
    )


async def _wait_reachable(db: Database, connect_wait: float) -> None:
    give_up_at = anyio.current_time() + connect_wait
    delay = 0.05
    while True:
        try:
            async with db.transaction(write=False) as tx:
                await tx.execute(text("SELECT 1"))
        except Exception as exc:
            if not is_transient(exc) or anyio.current_time() + delay > give_up_at:
                raise DatabaseUnavailable(db.url.redacted(), exc) from exc
        else:
            return
        await anyio.sleep(delay)
        delay = min(delay * 2, 1.0)
