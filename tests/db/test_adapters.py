"""The database port's behaviour, the same on every (adapter, database, backend) that exists.

Cases: the thread adapter on SQLite and PostgreSQL under asyncio and trio, and the native
(asyncpg) adapter on PostgreSQL under asyncio only: asyncpg cannot run on trio, so those
cases are generated for the asyncio backend alone (see the ids `asyncio-native-postgres`).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.url import DatabaseUrl
from airflow_sc.testing.plugin import BACKENDS, DATABASES, _selected


@dataclass(frozen=True)
class Case:
    adapter: str
    database: str


ALL_CASES = [
    (backend, Case(adapter, database))
    for backend, adapter, database in (
        ("asyncio", "thread", "sqlite"),
        ("trio", "thread", "sqlite"),
        ("asyncio", "thread", "postgres"),
        ("trio", "thread", "postgres"),
        ("asyncio", "native", "postgres"),  # asyncpg: asyncio only
    )
    if backend in _selected("AIRFLOW_SC_TEST_BACKENDS", BACKENDS)
    and database in _selected("AIRFLOW_SC_TEST_DATABASES", DATABASES)
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`case` covers every combination, `pg_case`/`sqlite_case`/`thread_case` a subset."""
    for name, databases, adapters in (
        ("case", ("sqlite", "postgres"), ("thread", "native")),
        ("pg_case", ("postgres",), ("thread", "native")),
        ("sqlite_case", ("sqlite",), ("thread",)),
        ("thread_case", ("sqlite", "postgres"), ("thread",)),
    ):
        if name in metafunc.fixturenames:
            metafunc.parametrize(
                ("anyio_backend", name),
                [
                    pytest.param(
                        backend,
                        case,
                        id=f"{backend}-{case.adapter}-{case.database}",
                        marks=[pytest.mark.postgres] if case.database == "postgres" else [],
                    )
                    for backend, case in ALL_CASES
                    if case.database in databases and case.adapter in adapters
                ],
            )


@pytest.fixture
def app_name() -> str:
    """A unique application_name, so a test can find its own server sessions."""
    return f"airflow-sc-test-{secrets.token_hex(4)}"


def _url(case: Case, request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if case.database == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def url(request: pytest.FixtureRequest) -> str:
    for name in ("case", "pg_case", "sqlite_case", "thread_case"):
        if name in request.fixturenames:
            return _url(request.getfixturevalue(name), request)
    raise AssertionError("no case parameter")


def _case(request: pytest.FixtureRequest) -> Case:
    for name in ("case", "pg_case", "sqlite_case", "thread_case"):
        if name in request.fixturenames:
            value = request.getfixturevalue(name)
            assert isinstance(value, Case)
            return value
    raise AssertionError("no case parameter")


@pytest.fixture
async def db(request: pytest.FixtureRequest, url: str, app_name: str) -> AsyncIterator[Database]:
    async with open_database(
        url,
        adapter=_case(request).adapter,
        pool_size=3,
        application_name=app_name,  # type: ignore[arg-type]
    ) as opened:
        yield opened


@pytest.fixture
async def table(db: Database) -> sa.Table:
    """A fresh two-column table (unique name: PostgreSQL cases share one database)."""
    table = sa.Table(
        f"items_{secrets.token_hex(4)}",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    await db.run(lambda tx: tx.execute(sa.schema.CreateTable(table)))
    return table


def _slow_statement(db: Database) -> sa.TextClause:
    if db.dialect == "postgresql":
        return sa.text("SELECT pg_sleep(5)")
    # About a minute of work for SQLite's virtual machine, far beyond any test deadline.
    return sa.text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)"
        " SELECT count(*) FROM c"
    )


async def _count(db: Database, table: sa.Table) -> int:
    async def body(tx: Transaction) -> int:
        return int(await tx.scalar(sa.select(sa.func.count()).select_from(table)))

    return await db.run(body, write=False)


def _open_transactions_sync(url: str, app_name: str) -> int:
    """Server sessions of this test's database left inside a transaction (a user-visible leak).

    SQLite: a leaked write transaction holds the write lock, so a raw connection cannot
    take it at once. PostgreSQL: sessions of our application_name that are in a transaction.
    """
    parsed = DatabaseUrl.parse(url)
    if parsed.dialect == "sqlite":
        raw = sqlite3.connect(parsed.sqlite_path or "", timeout=0, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            raw.close()
    # A connection discarded mid-statement (the native adapter on cancellation) leaves the
    # server session until the server notices the client is gone: allow it a few seconds.
    libpq = parsed.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as raw:
        row = raw.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %(name)s AND state <> 'idle'",
            {"name": app_name},
        ).fetchone()
        give_up_at = time.monotonic() + 3
        while row is not None and row[0] and time.monotonic() < give_up_at:
            row = raw.execute(
                "SELECT count(*) FROM pg_stat_activity, pg_sleep(0.02)"
                " WHERE application_name = %(name)s AND state <> 'idle'",
                {"name": app_name},
            ).fetchone()
    assert row is not None
    return int(row[0])


def _server_sessions_sync(url: str, app_name: str, *, settle: bool = False) -> int:
    """Server sessions of our application_name; `settle` allows closed ones a few seconds
    to disappear (a backend exits just after its client said goodbye)."""
    libpq = DatabaseUrl.parse(url).url.set(drivername="postgresql")
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s"
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as raw:
        row = raw.execute(query, {"name": app_name}).fetchone()
        give_up_at = time.monotonic() + 3
        while settle and row is not None and row[0] and time.monotonic() < give_up_at:
            row = raw.execute(query + " AND pg_sleep(0.02) IS NOT NULL", {"name": app_name})
            row = row.fetchone()
    assert row is not None
    return int(row[0])


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_insert_select_update_round_trip(case: Case, db: Database, table: sa.Table) -> None:
    async def write(tx: Transaction) -> int:
        await tx.execute(table.insert(), [{"id": i, "value": i * 10} for i in range(1, 6)])
        updated = await tx.execute(table.update().where(table.c.id <= 2).values(value=0))
        return updated.rowcount

    assert await db.run(write) == 2

    async def read(tx: Transaction) -> list[Any]:
        rows = await tx.execute(sa.select(table.c.id, table.c.value).order_by(table.c.id))
        return [tuple(row) for row in rows]

    assert await db.run(read, write=False) == [(1, 0), (2, 0), (3, 30), (4, 40), (5, 50)]
    stats = db.statistics()
    assert (stats.adapter, stats.dialect) == (
        case.adapter,
        "sqlite" if case.database == "sqlite" else "postgresql",
    )
    assert (stats.pool_size, stats.checked_out) == (3, 0)


@pytest.mark.anyio
async def test_rows_are_buffered_and_typed(case: Case, db: Database, table: sa.Table) -> None:
    async with db.transaction() as tx:
        await tx.execute(table.insert(), [{"id": 1, "value": 7}, {"id": 2, "value": 8}])
        rows = await tx.execute(sa.select(table).order_by(table.c.id))
        deleted = await tx.execute(table.delete().where(table.c.id == 2))
    # Readable after the transaction ended: nothing is fetched lazily.
    assert [row.value for row in rows] == [7, 8]
    assert rows.mappings()[0]["value"] == 7
    assert rows.scalars() == [1, 2]
    assert deleted.rowcount == 1
    assert await _count(db, table) == 1


@pytest.mark.anyio
async def test_commit_is_visible_to_another_transaction_only_after_commit(
    case: Case, db: Database, table: sa.Table
) -> None:
    inserted = anyio.Event()
    checked = anyio.Event()
    seen_before_commit: list[int] = []

    async def writer() -> None:
        async with db.transaction() as tx:
            await tx.execute(table.insert(), {"id": 1, "value": 1})
            inserted.set()
            await checked.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer)
        await inserted.wait()
        seen_before_commit.append(await _count(db, table))
        checked.set()
    assert seen_before_commit == [0]
    assert await _count(db, table) == 1


# -- rollback and cancellation -------------------------------------------------------------


@pytest.mark.anyio
async def test_exception_rolls_back_and_returns_the_connection(
    case: Case, db: Database, table: sa.Table, url: str, app_name: str
) -> None:
    with pytest.raises(LookupError):  # noqa: PT012
        async with db.transaction() as tx:
            await tx.execute(table.insert(), {"id": 1, "value": 1})
            raise LookupError("body failed")
    assert await _count(db, table) == 0
    assert db.statistics().checked_out == 0
    assert await anyio.to_thread.run_sync(_open_transactions_sync, url, app_name) == 0


@pytest.mark.anyio
async def test_database_error_rolls_back_the_whole_transaction(
    case: Case, db: Database, table: sa.Table
) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(table.insert(), {"id": 1, "value": 1})
        await tx.execute(table.insert(), {"id": 1, "value": 2})  # duplicate key

    with pytest.raises(IntegrityError):
        await db.run(body)
    assert await _count(db, table) == 0
    assert db.statistics().retries == 0  # not transient: raised at once


@pytest.mark.anyio
async def test_cancellation_between_statements_rolls_back(
    case: Case, db: Database, table: sa.Table, url: str, app_name: str
) -> None:
    inserted = anyio.Event()

    async def body() -> None:
        async with db.transaction() as tx:
            await tx.execute(table.insert(), {"id": 1, "value": 1})
            inserted.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(body)
        await inserted.wait()
        tg.cancel_scope.cancel()

    assert db.statistics().checked_out == 0
    assert await anyio.to_thread.run_sync(_open_transactions_sync, url, app_name) == 0
    assert await _count(db, table) == 0


@pytest.mark.anyio
async def test_deadline_during_a_slow_statement_returns_promptly_and_rolls_back(
    case: Case, db: Database, table: sa.Table, url: str, app_name: str
) -> None:
    started = time.monotonic()
    with anyio.move_on_after(0.3) as scope:
        async with db.transaction() as tx:
            await tx.execute(table.insert(), {"id": 1, "value": 1})
            await tx.execute(_slow_statement(db))
    elapsed = time.monotonic() - started

    # Cancellation, not a driver "query cancelled" error, and well before the statement's end.
    assert scope.cancelled_caught
    assert elapsed < 2.0
    assert db.statistics().checked_out == 0
    assert await anyio.to_thread.run_sync(_open_transactions_sync, url, app_name) == 0
    assert await _count(db, table) == 0


@pytest.mark.anyio
async def test_a_deadline_does_not_outlive_its_scope_in_the_transaction(
    pg_case: Case, db: Database
) -> None:
    async with db.transaction() as tx:
        with anyio.fail_after(5):
            await tx.execute(sa.text("SELECT 1"))
        # Later statements run under the configured statement_timeout again.
        assert await tx.scalar(sa.text("SHOW statement_timeout")) == "30s"


@pytest.mark.anyio
async def test_a_transaction_runs_one_statement_at_a_time(
    thread_case: Case, db: Database, table: sa.Table
) -> None:
    # The deadline bounds the slow statement, which a worker thread cannot abandon.
    with pytest.raises(ExceptionGroup) as caught, anyio.move_on_after(0.3):  # noqa: PT012
        async with db.transaction() as tx, anyio.create_task_group() as tg:
            tg.start_soon(tx.execute, _slow_statement(db))
            await anyio.wait_all_tasks_blocked()
            await tx.execute(sa.text("SELECT 1"))
    assert caught.group_contains(RuntimeError, match="one statement at a time")
    assert db.statistics().checked_out == 0


# -- lifecycle -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_close_releases_every_connection_and_is_idempotent(
    case: Case, url: str, app_name: str
) -> None:
    threads_before = threading.active_count()
    async with open_database(
        url,
        adapter=case.adapter,
        pool_size=4,
        application_name=app_name,  # type: ignore[arg-type]
    ) as db:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(db.run, _select_one)
        if case.database == "postgres":
            assert 1 <= await anyio.to_thread.run_sync(_server_sessions_sync, url, app_name) <= 4
    await db.aclose()  # a second close is a no-op

    if case.database == "postgres":
        settled = partial(_server_sessions_sync, url, app_name, settle=True)
        assert await anyio.to_thread.run_sync(settled) == 0
    # Worker threads are bounded by the pool size (idle ones stay in the backend's cache).
    assert threading.active_count() - threads_before <= 4 + 1
    with pytest.raises(RuntimeError, match="closed"):
        async with db.transaction():
            pass


async def _select_one(tx: Transaction) -> None:
    await tx.execute(sa.text("SELECT 1"))


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_postgres_deadlock_is_retried_and_both_transactions_succeed(
    pg_case: Case, db: Database, table: sa.Table
) -> None:
    await db.run(
        lambda tx: tx.execute(table.insert(), [{"id": 1, "value": 0}, {"id": 2, "value": 0}])
    )
    first_locked = {1: anyio.Event(), 2: anyio.Event()}

    def transfer(first: int, second: int) -> Any:
        async def body(tx: Transaction) -> None:
            # Only this session waits briefly before looking for a deadlock (default 1s).
            await tx.execute(sa.text("SET LOCAL deadlock_timeout = '50ms'"))
            await tx.execute(
                table.update().where(table.c.id == first).values(value=table.c.value + 1)
            )
            first_locked[first].set()
            await first_locked[second].wait()
            await tx.execute(
                table.update().where(table.c.id == second).values(value=table.c.value + 1)
            )

        return body

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(db.run, transfer(1, 2))
            tg.start_soon(db.run, transfer(2, 1))

    async def values(tx: Transaction) -> list[int]:
        return await tx.scalars(sa.select(table.c.value).order_by(table.c.id))

    assert await db.run(values, write=False) == [2, 2]
    assert db.statistics().retries >= 1


@pytest.mark.anyio
async def test_postgres_connection_killed_between_transactions_is_replaced(
    pg_case: Case, url: str, app_name: str
) -> None:
    async with open_database(
        url,
        adapter=pg_case.adapter,
        pool_size=1,
        application_name=app_name,  # type: ignore[arg-type]
    ) as db:
        pid = await db.run(lambda tx: tx.scalar(sa.text("SELECT pg_backend_pid()")))
        await anyio.to_thread.run_sync(_terminate_sync, url, pid)

        new_pid = await db.run(lambda tx: tx.scalar(sa.text("SELECT pg_backend_pid()")))
        assert new_pid != pid
        assert db.statistics().checked_out == 0


def _terminate_sync(url: str, pid: int) -> None:
    libpq = DatabaseUrl.parse(url).url.set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as raw:
        raw.execute("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        # Wait until the server has removed the session, so the kill precedes the next run
        # (autocommit: every poll sees a fresh pg_stat_activity snapshot).
        give_up_at = time.monotonic() + 5
        while time.monotonic() < give_up_at:
            gone = raw.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %(pid)s)"
                " FROM pg_sleep(0.01)",
                {"pid": pid},
            ).fetchone()
            if gone is not None and gone[0]:
                return
        raise AssertionError(f"backend {pid} survived pg_terminate_backend")


@pytest.mark.anyio
async def test_postgres_statement_timeout_error_is_not_retried(
    pg_case: Case, url: str, app_name: str
) -> None:
    async with open_database(
        url,
        adapter=pg_case.adapter,  # type: ignore[arg-type]
        statement_timeout=0.1,
        application_name=app_name,
    ) as db:
        with pytest.raises(DBAPIError, match="statement timeout"):
            await db.run(lambda tx: tx.execute(sa.text("SELECT pg_sleep(2)")))
        assert db.statistics().retries == 0
        assert db.statistics().checked_out == 0


@pytest.mark.anyio
async def test_postgres_sessions_carry_the_application_name(
    pg_case: Case, db: Database, app_name: str
) -> None:
    name = await db.run(lambda tx: tx.scalar(sa.text("SHOW application_name")))
    assert name == app_name


# -- SQLite ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sqlite_ten_concurrent_writers_all_succeed(
    sqlite_case: Case, db: Database, table: sa.Table
) -> None:
    await db.run(lambda tx: tx.execute(table.insert(), {"id": 1, "value": 0}))

    async def increment(tx: Transaction) -> None:
        # Read-modify-write: lost updates would show if writers overlapped.
        value = await tx.scalar(sa.select(table.c.value).where(table.c.id == 1))
        await tx.execute(table.update().where(table.c.id == 1).values(value=value + 1))

    async def writer() -> None:
        for _ in range(20):
            await db.run(increment)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(writer)

    assert await db.run(lambda tx: tx.scalar(sa.select(table.c.value)), write=False) == 200
    assert db.statistics().retries == 0


@pytest.mark.anyio
async def test_sqlite_readers_are_not_blocked_by_a_writer(
    sqlite_case: Case, db: Database, table: sa.Table
) -> None:
    writing = anyio.Event()
    done_reading = anyio.Event()

    async def writer() -> None:
        async with db.transaction() as tx:
            await tx.execute(table.insert(), {"id": 1, "value": 1})
            writing.set()
            await done_reading.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            await writing.wait()
            assert await _count(db, table) == 0
            done_reading.set()
    assert await _count(db, table) == 1


@pytest.mark.anyio
async def test_sqlite_settings_are_applied(
    sqlite_case: Case, db: Database, table: sa.Table
) -> None:
    async with db.transaction(write=False) as tx:
        assert await tx.scalar(sa.text("PRAGMA journal_mode")) == "wal"
        assert await tx.scalar(sa.text("PRAGMA synchronous")) == 1  # NORMAL
        assert await tx.scalar(sa.text("PRAGMA busy_timeout")) == 30000

    child = sa.Table(
        f"child_{secrets.token_hex(4)}",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent", sa.Integer, sa.ForeignKey(table.c.id)),
    )
    await db.run(lambda tx: tx.execute(sa.schema.CreateTable(child)))
    with pytest.raises(IntegrityError):  # foreign keys are enforced
        await db.run(lambda tx: tx.execute(child.insert(), {"id": 1, "parent": 42}))
