"""Notes to the SQLite scheduler's process: a UNIX datagram socket (NOTIFY on PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import Note as PostgresNote
from airflow_sc.db.notify import open_listener
from airflow_sc.scheduler.changes import Change, ChangeFeed, Note, stage_subscriber
from airflow_sc.scheduler.changes.local_socket import (
    SocketPublisher,
    send_note,
    send_payload,
    serve_socket_receiver,
    wake_scheduler,
    wake_socket_path,
)
from airflow_sc.scheduler.changes.notes import decode_note, encode_note
from airflow_sc.scheduler.changes.postgres import CHANNEL
from airflow_sc.scheduler.wakeups import StageWakeups


@pytest.fixture
def short_home(tmp_path: Path) -> Iterator[Path]:
    # pytest's tmp_path can be too deep for a socket path; the fallback is tested apart.
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"asc-{os.getpid()}-{id(tmp_path)}"
    home.mkdir()
    yield home
    shutil.rmtree(home)


@pytest.fixture
async def sqlite_db(sqlite_database_url: str) -> AsyncIterator[Database]:
    async with open_database(sqlite_database_url) as db:
        yield db


def test_a_deep_home_gets_a_short_socket_path_of_its_own(tmp_path: Path) -> None:
    assert wake_socket_path(Path("/srv/af")) == Path("/srv/af/run/scheduler.sock")
    deep = tmp_path / ("d" * 120)
    fallback = wake_socket_path(deep)
    assert len(os.fsencode(fallback)) <= 100
    assert fallback != wake_socket_path(tmp_path / ("e" * 120))  # one socket per home
    assert fallback == wake_socket_path(deep)


def test_the_api_process_listens_on_a_socket_of_its_own(tmp_path: Path) -> None:
    assert wake_socket_path(Path("/srv/af"), "api") == Path("/srv/af/run/api.sock")
    deep = tmp_path / ("d" * 120)
    assert wake_socket_path(deep, "api") != wake_socket_path(deep)
    assert len(str(wake_socket_path(deep, "api"))) <= 100


def test_sending_with_nobody_listening_is_silent(short_home: Path) -> None:
    path = short_home / "scheduler.sock"
    assert send_payload(path, "{}") is False  # no file
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
        stale.bind(str(path))
    assert path.exists()
    assert send_payload(path, "{}") is False  # a file left by a killed scheduler


@pytest.mark.anyio
async def test_notes_sent_to_the_socket_reach_the_feed_and_wake_the_stages(
    short_home: Path,
) -> None:
    path = wake_socket_path(short_home)
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
        stale.bind(str(path))  # left behind by a scheduler killed with -9
    wakeups = StageWakeups()
    feed = ChangeFeed()
    with feed.subscribe(stage_subscriber(wakeups)):
        async with anyio.create_task_group() as tg:
            await tg.start(serve_socket_receiver, path, feed)
            assert not wakeups.start_runs.is_set()
            assert send_payload(path, encode_note(Note.of([Change.RUNS_CREATED], [7])))
            with anyio.fail_after(5):
                await wakeups.start_runs.wait()
            assert send_payload(path, "not a note")  # ignored, the receiver keeps serving
            assert send_payload(path, encode_note(Note.of([Change.RUNS_CHANGED], [3, 4])))
            with anyio.fail_after(5):
                await wakeups.enqueue.wait()
            assert wakeups.take_dirty() == {3, 4}
            tg.cancel_scope.cancel()
    assert not path.exists()  # removed on the way out
    assert send_payload(path, encode_note(Note.of([Change.DAG_CHANGED]))) is False


@pytest.mark.anyio
async def test_wake_scheduler_sends_to_the_socket_on_sqlite(
    short_home: Path, sqlite_db: Database
) -> None:
    path = wake_socket_path(short_home)
    path.parent.mkdir()
    async with await anyio.create_unix_datagram_socket(local_path=path) as receiver:
        await wake_scheduler(sqlite_db, short_home, [Change.RUNS_CREATED], [12])
        with anyio.fail_after(5):
            packet, _ = await receiver.receive()
    note = decode_note(packet.decode())
    assert note is not None
    assert (note.changes, note.run_pks, note.origin) == (
        frozenset({Change.RUNS_CREATED}),
        frozenset({12}),
        None,
    )


@pytest.mark.anyio
@pytest.mark.postgres
async def test_wake_scheduler_notifies_on_postgres(
    short_home: Path, postgres_database_url: str
) -> None:
    async with (
        open_database(postgres_database_url, adapter="thread") as db,
        open_listener(db, [CHANNEL], adapter="thread") as listener,
    ):
        await wake_scheduler(db, short_home, [Change.RUNS_CHANGED], [5])
        with anyio.fail_after(10):
            heard = await listener.receive()
    assert isinstance(heard, PostgresNote)
    note = decode_note(heard.payload)
    assert note is not None
    assert (note.changes, note.run_pks) == (frozenset({Change.RUNS_CHANGED}), frozenset({5}))
    assert not (short_home / "run").exists()  # nothing sent to a socket


@pytest.mark.anyio
async def test_a_feed_sending_to_the_socket_forwards_what_it_announces(short_home: Path) -> None:
    path = short_home / "scheduler.sock"
    feed = ChangeFeed()
    feed.add_outbound(lambda note: send_note(path, note))
    async with await anyio.create_unix_datagram_socket(local_path=path) as receiver:
        feed.operator_changed([3])  # the API (in an api-server process) changed run 3
        feed.dag_changed()  # a dag-processor process stored a DAG
        with anyio.fail_after(5):
            notes = [decode_note((await receiver.receive())[0].decode()) for _ in range(2)]
    assert [(n.changes, n.run_pks) for n in notes if n is not None] == [
        (frozenset({Change.RUNS_CHANGED}), frozenset({3})),
        (frozenset({Change.DAG_CHANGED}), frozenset()),
    ]


@pytest.mark.anyio
async def test_a_socket_publisher_loses_no_note_while_the_receivers_queue_is_full(
    short_home: Path,
) -> None:
    path = wake_socket_path(short_home, "api")
    path.parent.mkdir()
    publisher = SocketPublisher(path)
    sent = set(range(40))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.setblocking(False)
        async with anyio.create_task_group() as tg:
            tg.start_soon(publisher.run)
            # One note per pass of the publisher: far more datagrams than the receiver's
            # queue holds (net.unix.max_dgram_qlen) while it reads none.
            for pk in sorted(sent):
                publisher.send(Note.of([Change.TIS_FINISHED], [pk]))
                await anyio.wait_all_tasks_blocked()
            heard: set[int] = set()
            with anyio.fail_after(5):
                while heard != sent:
                    await anyio.wait_readable(receiver)
                    note = decode_note(receiver.recv(65536).decode())
                    assert note is not None
                    assert note.run_pks is not None
                    heard |= note.run_pks
            tg.cancel_scope.cancel()
    # Nobody listening: dropped, not waited for.
    publisher.send(Note.of([Change.DAG_CHANGED]))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(publisher.run)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
