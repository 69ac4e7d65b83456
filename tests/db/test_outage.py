"""Waiting out a database outage: the pure policy, the reachability state, and a real
PostgreSQL cluster of the test's own stopped and started under both adapters."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import psycopg.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from airflow_sc.db import Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.reachability import Reachability
from airflow_sc.db.retry import (
    DEFAULT_RETRY,
    OUTAGE_RETRY,
    RetryPolicy,
    is_connection_loss,
    is_transient,
    retry_delay,
)
from tests.pg_cluster import Cluster, throwaway_cluster

REFUSED = ConnectionRefusedError(111, "Connection refused")


def test_an_outage_policy_retries_as_long_as_the_error_is_transient() -> None:
    assert retry_delay(10_000, OUTAGE_RETRY, REFUSED, 0.5) == pytest.approx(1.5)
    assert retry_delay(1, OUTAGE_RETRY, ValueError("a bug"), 0.5) is None


def test_a_bounded_policy_gives_up_after_its_attempts() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0)
    assert retry_delay(2, policy, REFUSED, 0.0) == pytest.approx(0.1)
    assert retry_delay(3, policy, REFUSED, 0.0) is None


def test_outage_backoff_is_capped_with_jitter() -> None:
    delays = [retry_delay(n, OUTAGE_RETRY, REFUSED, 0.999) for n in range(1, 12)]
    assert delays[0] == pytest.approx(0.05, rel=0.01)
    assert max(d for d in delays if d is not None) <= OUTAGE_RETRY.max_delay
    assert retry_delay(11, OUTAGE_RETRY, REFUSED, 0.0) == pytest.approx(1.0)  # half fixed


@pytest.mark.parametrize(
    ("error", "loss"),
    [
        (REFUSED, True),
        (OperationalError("SELECT 1", None, psycopg.OperationalError("connection refused")), True),
        (DBAPIError("SELECT 1", None, psycopg.errors.AdminShutdown("terminating")), True),
        (DBAPIError("SELECT 1", None, psycopg.errors.DeadlockDetected("deadlock")), False),
        (DBAPIError("SELECT 1", None, psycopg.errors.SerializationFailure("serialize")), False),
        (DBAPIError("SELECT 1", None, psycopg.errors.UniqueViolation("dup")), False),
        (ValueError("a bug"), False),
    ],
    ids=lambda value: type(getattr(value, "orig", value)).__name__,
)
def test_only_a_lost_connection_counts_as_the_database_being_unreachable(
    error: Exception, loss: bool
) -> None:
    assert is_connection_loss(error) is loss


def test_reachability_records_one_outage_from_first_failure_to_first_success() -> None:
    state = Reachability()
    assert state.reachable
    assert state.seconds_since_recovery(100.0) is None
    assert state.record_failure(100.0, "refused") == "lost"
    assert state.record_failure(101.0, "refused again") is None
    assert not state.reachable
    assert state.seconds_since_recovery(105.0) == 0.0
    assert state.failed_within(2.0, 102.0)
    assert not state.failed_within(2.0, 103.5)  # nobody tried lately: let one through
    assert state.record_success(130.0) == "recovered"
    assert not state.failed_within(2.0, 130.5)
    assert state.record_success(131.0) is None
    assert state.seconds_since_recovery(140.0) == 10.0
    snapshot = state.snapshot()
    assert (snapshot.unreachable_since, snapshot.recovered_at, snapshot.outages) == (
        None,
        130.0,
        1,
    )
    assert snapshot.last_error == "refused again"


# -- a real outage -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as started:
        yield started


@pytest.mark.postgres
@pytest.mark.anyio
@pytest.mark.timeout(90)
async def test_a_stopped_server_is_waited_for_and_the_outage_is_seen(
    cluster: Cluster, anyio_backend: str
) -> None:
    # asyncio: the native adapter (asyncpg); trio: the thread adapter (psycopg).
    answers: list[int] = []

    async def one(tx: Transaction) -> int:
        return int(await tx.scalar(sa.text("SELECT 1")))

    async with open_database(cluster.url, retry=OUTAGE_RETRY) as db:
        assert await db.run(one, write=False) == 1  # a pooled connection the stop will break
        await anyio.to_thread.run_sync(cluster.stop)
        async with anyio.create_task_group() as tg:

            async def waits() -> None:
                answers.append(await db.run(one, write=False))

            tg.start_soon(waits)
            while db.reachability.reachable:
                await anyio.sleep(0.02)
            # A request's bounded retry gives up with the transient error meanwhile.
            with pytest.raises(Exception) as refused:  # noqa: PT011 (the driver's own class)
                await db.with_retry(DEFAULT_RETRY).run(one, write=False)
            assert is_transient(refused.value)
            assert answers == []
            await anyio.to_thread.run_sync(cluster.start)
        assert answers == [1]
        assert db.reachability.reachable
        assert db.reachability.snapshot().outages == 1
        assert db.statistics().retries > 0
