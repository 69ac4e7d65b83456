"""Notes between processes over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import APPLICATION_NAME, Note, open_listener
from airflow_sc.scheduler.changes import Change, ChangeFeed, stage_subscriber
from airflow_sc.scheduler.changes.notes import decode_note
from airflow_sc.scheduler.changes.postgres import (
    CHANNEL,
    BridgeStatistics,
    NotifyPublisher,
    publish,
    serve_notify_bridge,
)
from airflow_sc.scheduler.wakeups import StageWakeups, Wakeup
from tests.scheduler.changes.test_feed import woken

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    async with open_database(postgres_url) as db:
        yield db


async def wait(wakeup: Wakeup) -> None:
    with anyio.fail_after(10):
        await wakeup.wait()


async def test_a_published_change_reaches_the_feed_of_another_connection(pg: Database) -> None:
    wakeups = StageWakeups()
    stats = BridgeStatistics()
    feed = ChangeFeed()
    with feed.subscribe(stage_subscriber(wakeups)):
        async with anyio.create_task_group() as tg:
            await tg.start(
                lambda task_status: serve_notify_bridge(
                    pg, feed, statistics=stats, task_status=task_status
                )
            )
            async with pg.transaction() as tx:
                await publish(tx, [Change.RUNS_CREATED], [11], origin="api")
            await wait(wakeups.start_runs)
            assert woken(wakeups) == set()

            # This process's own notes are skipped; others' arrive in commit order.
            async with pg.transaction() as tx:
                await publish(tx, [Change.DAG_CHANGED], origin=feed.origin)
            async with pg.transaction() as tx:
                await publish(tx, [Change.TIS_FINISHED], [42, 43])
            await wait(wakeups.schedule_tis)
            assert wakeups.take_dirty() == {42, 43}
            assert not wakeups.create_runs.is_set()
            assert (stats.applied, stats.ignored) == (2, 1)
            tg.cancel_scope.cancel()


async def test_a_lost_listening_connection_makes_every_stage_sweep(pg: Database) -> None:
    wakeups = StageWakeups()
    feed = ChangeFeed()
    with feed.subscribe(stage_subscriber(wakeups)):
        async with anyio.create_task_group() as tg:
            await tg.start(serve_notify_bridge, pg, feed)
            async with pg.transaction() as tx:
                await tx.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name AND datname = current_database()"
                    ),
                    {"name": APPLICATION_NAME},
                )
            await wait(wakeups.housekeeping)
            assert woken(wakeups) == {"create_runs", "start_runs", "schedule_tis", "enqueue"}
            tg.cancel_scope.cancel()


async def test_a_publisher_coalesces_what_its_feed_announces(pg: Database) -> None:
    feed = ChangeFeed()
    publisher = NotifyPublisher(pg)
    feed.add_outbound(publisher.send)
    stop = anyio.Event()
    async with (
        open_listener(pg, [CHANNEL]) as listener,
        anyio.create_task_group() as tg,
    ):
        feed.tis_finished([7])  # queued before the publisher runs: one note for both
        feed.tis_finished([8])
        await tg.start(
            lambda task_status: publisher.serve(shutdown_trigger=stop.wait, task_status=task_status)
        )
        with anyio.fail_after(10):
            heard = await listener.receive()
        stop.set()
    assert isinstance(heard, Note)
    note = decode_note(heard.payload)
    assert note is not None
    assert (note.changes, note.run_pks, note.origin) == (
        frozenset({Change.TIS_FINISHED}),
        frozenset({7, 8}),
        feed.origin,
    )


async def test_on_sqlite_the_bridge_starts_and_publishing_sends_nothing(sqlite_url: str) -> None:
    async with open_database(sqlite_url) as db:
        wakeups = StageWakeups()
        feed = ChangeFeed()
        with feed.subscribe(stage_subscriber(wakeups)):
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    await tg.start(serve_notify_bridge, db, feed)
            async with db.transaction() as tx:
                await publish(tx, [Change.DAG_CHANGED])
        assert woken(wakeups) == set()
