"""LISTEN/NOTIFY behind the database port: delivery on commit, reconnects, SQLite no-op."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text

from airflow_sc.db import Database
from airflow_sc.db.database import AdapterName
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import (
    APPLICATION_NAME,
    Listener,
    Note,
    NotesMissed,
    Notification,
    notify,
    open_listener,
)

pytestmark = pytest.mark.anyio


def adapters(backend: str) -> list[AdapterName]:
    """asyncpg needs asyncio; psycopg in a thread runs on both backends."""
    return ["native", "thread"] if backend == "asyncio" else ["thread"]


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    async with open_database(postgres_url, adapter="thread") as db:
        yield db


async def send(db: Database, channel: str, payload: str) -> None:
    async with db.transaction() as tx:
        await notify(tx, channel, payload)


async def rolled_back_notify(db: Database) -> None:
    async with db.transaction() as tx:
        await notify(tx, "runs", "rolled back")
        raise RuntimeError("changed my mind")


async def next_note(listener: Listener) -> Notification:
    with anyio.fail_after(10):
        return await listener.receive()


async def test_a_notification_arrives_only_when_its_transaction_commits(
    pg: Database, anyio_backend: str
) -> None:
    for adapter in adapters(anyio_backend):
        async with open_listener(pg, ["runs", "tis"], adapter=adapter) as listener:
            async with pg.transaction() as first, anyio.create_task_group() as tg:
                await notify(first, "runs", "sent first, committed last")
                # A second writer (another task, another connection) commits while the
                # first transaction is still open.
                tg.start_soon(send, pg, "tis", "sent second, committed first")
                note = await next_note(listener)
                assert isinstance(note, Note)
                assert (note.channel, note.payload) == ("tis", "sent second, committed first")
                assert listener.receive_nowait() is None
            note = await next_note(listener)
            assert isinstance(note, Note)
            assert (note.channel, note.payload) == ("runs", "sent first, committed last")
            assert note.sender_pid > 0


async def test_a_rolled_back_notification_is_never_delivered(
    pg: Database, anyio_backend: str
) -> None:
    for adapter in adapters(anyio_backend):
        async with open_listener(pg, ["runs"], adapter=adapter) as listener:
            with pytest.raises(RuntimeError, match="changed my mind"):
                await rolled_back_notify(pg)
            await send(pg, "runs", "marker")
            note = await next_note(listener)
            assert isinstance(note, Note)
            assert note.payload == "marker"


async def test_only_the_listened_channels_are_delivered(pg: Database, anyio_backend: str) -> None:
    for adapter in adapters(anyio_backend):
        async with open_listener(pg, ["runs"], adapter=adapter) as listener:
            await send(pg, "other", "not for us")
            await send(pg, "runs", "for us")
            note = await next_note(listener)
            assert isinstance(note, Note)
            assert note.payload == "for us"


async def test_the_listener_reconnects_after_its_connection_is_killed(
    pg: Database, anyio_backend: str
) -> None:
    for adapter in adapters(anyio_backend):
        async with open_listener(pg, ["runs"], adapter=adapter) as listener:
            async with pg.transaction() as tx:
                killed = await tx.scalars(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name AND datname = current_database()"
                    ),
                    {"name": APPLICATION_NAME},
                )
            assert killed == [True]
            # Notes sent while it was away are lost: the consumer is told to sweep.
            assert await next_note(listener) == NotesMissed("reconnected")
            await send(pg, "runs", "after the reconnect")
            note = await next_note(listener)
            assert isinstance(note, Note)
            assert note.payload == "after the reconnect"
            assert listener.statistics().reconnects == 1


async def test_closing_the_listener_ends_iteration_promptly(
    pg: Database, anyio_backend: str
) -> None:
    for adapter in adapters(anyio_backend):
        with anyio.fail_after(2):
            async with open_listener(pg, ["runs"], adapter=adapter) as listener:
                pass
        assert [n async for n in listener] == []


async def test_a_url_picks_the_driver_for_the_running_backend(postgres_url: str) -> None:
    async with (
        open_listener(postgres_url, ["runs"]) as listener,
        open_database(postgres_url) as db,
    ):
        await send(db, "runs", "by url")
        note = await next_note(listener)
        assert isinstance(note, Note)
        assert note.payload == "by url"


async def test_on_sqlite_notify_is_a_no_op_and_the_listener_stays_silent(
    sqlite_url: str,
) -> None:
    async with open_database(sqlite_url) as db, open_listener(db, ["runs"]) as listener:
        await send(db, "runs", "nobody listens on sqlite")
        assert listener.receive_nowait() is None
        with anyio.move_on_after(0.01) as scope:
            await listener.receive()
        assert scope.cancelled_caught
    assert [n async for n in listener] == []


async def test_a_consumer_that_falls_behind_is_told_to_sweep() -> None:
    # The producer side is driven directly: which notes a real connection has delivered by
    # a given moment is up to the network, and this rule is about the buffer alone.
    listener = Listener(capacity=2)
    for i in range(3):
        listener._push(Note("runs", f"note {i}", 1))
    listener._push(Note("runs", "after the overflow", 1))
    assert await listener.receive() == NotesMissed("overflow")
    assert await listener.receive() == Note("runs", "after the overflow", 1)
    assert listener.receive_nowait() is None
    assert listener.statistics().dropped == 3


async def test_channel_names_and_capacity_are_checked() -> None:
    with pytest.raises(ValueError, match="invalid notification channel"):
        async with open_listener("sqlite://", ["Bad-Name"]):
            pass
    with pytest.raises(ValueError, match="capacity"):
        Listener(capacity=0)


async def test_an_unreachable_database_fails_on_entry_with_the_drivers_error(
    postgres_url: str, anyio_backend: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/airflow_sc_no_such_database"
    for adapter in adapters(anyio_backend):
        with anyio.fail_after(15), pytest.raises(Exception, match="airflow_sc_no_such_database"):
            async with open_listener(missing, ["runs"], adapter=adapter):
                pass


async def test_an_error_in_the_listening_block_comes_out_as_itself(pg: Database) -> None:
    with pytest.raises(LookupError, match="the caller's own error"):
        await fail_while_listening(pg)


async def fail_while_listening(db: Database) -> None:
    async with open_listener(db, ["runs"]):
        raise LookupError("the caller's own error")
