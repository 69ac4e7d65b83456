"""Which errors are retried, how long between attempts, and the retry loop on a real database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import psycopg.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from airflow_sc.db import Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.retry import RetryPolicy, backoff_delay, is_transient, run_with_retry


def _wrap(orig: Exception, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
    return kind("SELECT 1", None, orig)


def _real_sqlite_busy(path: Path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return exc
        raise AssertionError("the second writer was not refused")
    finally:
        holder.close()
        other.close()


def test_sqlite_busy_is_transient(tmp_path: Path) -> None:
    busy = _real_sqlite_busy(tmp_path / "busy.db")
    assert "locked" in str(busy)
    assert is_transient(_wrap(busy))


def test_other_sqlite_errors_are_not_transient(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("SELECT * FROM missing_table")
    conn.close()
    assert not is_transient(_wrap(caught.value))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.ConnectionFailure("connection failure"), True),
        (psycopg.OperationalError("connection failed: Connection refused"), True),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (psycopg.errors.UndefinedTable("relation does not exist"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_postgres_errors_by_sqlstate(error: Exception, transient: bool) -> None:
    kind = OperationalError if isinstance(error, psycopg.OperationalError) else DBAPIError
    assert is_transient(_wrap(error, kind)) is transient


def test_invalidated_connection_and_refused_socket_are_transient() -> None:
    lost = DBAPIError(
        "SELECT 1", None, psycopg.InterfaceError("closed"), connection_invalidated=True
    )
    assert is_transient(lost)
    assert is_transient(ConnectionRefusedError(111, "Connection refused"))


def test_non_database_errors_and_cancellation_are_not_transient() -> None:
    assert not is_transient(ValueError("bug"))
    assert not is_transient(TimeoutError())
    assert not is_transient(KeyboardInterrupt())
    assert not is_transient(_wrap(psycopg.errors.UniqueViolation("dup"), IntegrityError))


def test_an_exception_group_is_transient_only_when_all_of_it_is() -> None:
    refused = ConnectionRefusedError(111, "refused")
    assert is_transient(ExceptionGroup("x", [refused, ConnectionResetError()]))
    assert not is_transient(ExceptionGroup("x", [refused, ValueError("bug")]))


def test_backoff_grows_exponentially_within_jitter_and_is_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.1, max_delay=1.0)
    assert [backoff_delay(n, policy, 0.0) for n in (1, 2, 3)] == pytest.approx([0.05, 0.1, 0.2])
    assert [backoff_delay(n, policy, 0.999) for n in (1, 2)] == pytest.approx([0.1, 0.2], rel=0.01)
    assert backoff_delay(9, policy, 0.999) <= 1.0


# -- the retry loop, on a real SQLite database --------------------------------------------

QUICK = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.mark.anyio
async def test_transient_failures_are_retried_in_fresh_transactions(sqlite_url: str) -> None:
    attempts: list[int] = []
    delays: list[float] = []

    async def no_wait(delay: float) -> None:
        delays.append(delay)

    async def body(tx: Transaction) -> str:
        await tx.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        await tx.execute(sa.text("INSERT INTO t VALUES (1)"))
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionResetError("lost")
        return "done"

    async with open_database(sqlite_url) as db:
        assert await run_with_retry(db, body, write=True, policy=QUICK, sleep=no_wait) == "done"
        # Failed attempts were rolled back: one row, from the attempt that succeeded.
        assert await db.run(lambda tx: tx.scalar(sa.text("SELECT count(*) FROM t"))) == 1
        assert db.statistics().retries == 2
    assert len(delays) == 2
    assert delays[1] >= delays[0] / 2


@pytest.mark.anyio
async def test_permanent_errors_propagate_at_once_and_attempts_are_bounded(
    sqlite_url: str,
) -> None:
    calls: list[str] = []

    async def no_wait(delay: float) -> None:
        pass

    async def broken(tx: Transaction) -> None:
        calls.append("broken")
        raise ValueError("a bug, not a busy database")

    async def always_refused(tx: Transaction) -> None:
        calls.append("refused")
        raise ConnectionRefusedError(111, "refused")

    async with open_database(sqlite_url) as db:
        with pytest.raises(ValueError, match="a bug"):
            await run_with_retry(db, broken, write=True, policy=QUICK, sleep=no_wait)
        with pytest.raises(ConnectionRefusedError):
            await run_with_retry(db, always_refused, write=True, policy=QUICK, sleep=no_wait)
    assert calls == ["broken"] + ["refused"] * QUICK.attempts


@pytest.mark.anyio
async def test_cancellation_is_never_retried(sqlite_url: str) -> None:
    calls = 0

    async def body(tx: Transaction) -> None:
        nonlocal calls
        calls += 1
        await anyio.sleep_forever()

    async with open_database(sqlite_url) as db:
        with anyio.move_on_after(0.05):
            await run_with_retry(db, body, write=True, policy=QUICK)
        assert (calls, db.statistics().retries, db.statistics().checked_out) == (1, 0, 0)


@pytest.mark.anyio
async def test_sqlite_busy_from_another_connection_is_retried_until_released(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = str(tmp_path / "airflow-sc.db")
    # A tiny busy timeout: the write lock held by another process surfaces as "locked".
    async with open_database(sqlite_url, statement_timeout=0.02) as db:
        await db.run(lambda tx: tx.execute(sa.text("CREATE TABLE t (x INTEGER)")))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")

        async def release_on_first_backoff(delay: float) -> None:
            if other.in_transaction:
                other.execute("COMMIT")

        async def body(tx: Transaction) -> None:
            await tx.execute(sa.text("INSERT INTO t VALUES (2)"))

        await run_with_retry(db, body, write=True, policy=QUICK, sleep=release_on_first_backoff)
        other.close()
        rows = await db.run(lambda tx: tx.scalars(sa.text("SELECT x FROM t ORDER BY x")))
        assert rows == [1, 2]
        assert db.statistics().retries == 1
