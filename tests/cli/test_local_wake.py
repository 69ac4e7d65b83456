"""Waking a scheduler in another process: a UNIX datagram socket on SQLite, NOTIFY on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from airflow_sc.cli._composition import WakeHub
from airflow_sc.cli._local_wake import (
    local_wake_stage,
    send_local_wake,
    wake_scheduler,
    wake_socket_path,
)
from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import Note, open_listener
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.notify import SCHEDULER_CHANNEL, Change, decode_ping, encode_ping
from airflow_sc.scheduler.service import SchedulerHandle
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


def stage_deps(db: Database) -> StageDeps:
    return StageDeps(SchedulerDeps(db=db, executors=[]), job_id=None)


def test_the_socket_lives_in_the_home_unless_the_path_is_too_long(tmp_path: Path) -> None:
    assert wake_socket_path(Path("/srv/af")) == Path("/srv/af/run/scheduler.sock")
    deep = tmp_path / ("d" * 120)
    fallback = wake_socket_path(deep)
    assert len(str(fallback)) < 100
    assert fallback != wake_socket_path(tmp_path / ("e" * 120))  # one socket per home
    assert fallback == wake_socket_path(deep)


def test_sending_with_nobody_listening_is_silent(short_home: Path) -> None:
    path = short_home / "scheduler.sock"
    assert send_local_wake(path, "{}") is False  # no file
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
        stale.bind(str(path))
    assert path.exists()
    assert send_local_wake(path, "{}") is False  # a file left by a killed scheduler


@pytest.mark.anyio
async def test_notes_sent_to_the_socket_wake_the_scheduler_stages(
    short_home: Path, sqlite_db: Database
) -> None:
    path = wake_socket_path(short_home)
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
        stale.bind(str(path))  # left behind by a scheduler killed with -9
    wakeups = StageWakeups()
    async with anyio.create_task_group() as tg:
        await tg.start(local_wake_stage(path), stage_deps(sqlite_db), wakeups)
        assert not wakeups.start_runs.is_set()
        assert send_local_wake(path, encode_ping([Change.RUNS_CREATED], [7]))
        with anyio.fail_after(5):
            await wakeups.start_runs.wait()
        assert send_local_wake(path, "not a note")  # ignored, the stage keeps serving
        assert send_local_wake(path, encode_ping([Change.RUNS_CHANGED], [3, 4]))
        with anyio.fail_after(5):
            await wakeups.enqueue.wait()
        assert wakeups.take_dirty() == {3, 4}
        tg.cancel_scope.cancel()
    assert not path.exists()  # removed on the way out
    assert send_local_wake(path, encode_ping([Change.DAG_CHANGED])) is False


@pytest.mark.anyio
@pytest.mark.postgres
async def test_the_stage_does_nothing_on_postgres(
    short_home: Path, postgres_database_url: str
) -> None:
    path = short_home / "scheduler.sock"
    async with open_database(postgres_database_url, adapter="thread") as db:
        await local_wake_stage(path)(stage_deps(db), StageWakeups())
    assert not path.exists()


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
    ping = decode_ping(packet.decode())
    assert ping is not None
    assert (ping.changes, ping.run_pks, ping.origin) == (
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
        open_listener(db, [SCHEDULER_CHANNEL], adapter="thread") as listener,
    ):
        await wake_scheduler(db, short_home, [Change.RUNS_CHANGED], [5])
        with anyio.fail_after(10):
            note = await listener.receive()
    assert isinstance(note, Note)
    ping = decode_ping(note.payload)
    assert ping is not None
    assert (ping.changes, ping.run_pks) == (frozenset({Change.RUNS_CHANGED}), frozenset({5}))
    assert not (short_home / "run").exists()  # nothing sent to a socket


@pytest.mark.anyio
async def test_a_process_without_a_scheduler_forwards_wake_ups_to_the_socket(
    short_home: Path,
) -> None:
    path = short_home / "scheduler.sock"
    hub = WakeHub(elsewhere=path)
    async with await anyio.create_unix_datagram_socket(local_path=path) as receiver:
        hub.wake([3])  # the API (in an api-server process) changed run 3
        hub.dag_changed()  # a dag-processor process stored a DAG
        with anyio.fail_after(5):
            pings = [decode_ping((await receiver.receive())[0].decode()) for _ in range(2)]
        wakeups = StageWakeups()
        hub.scheduler = SchedulerHandle(job_id=1, wakeups=wakeups)
        hub.wake([4])  # with a scheduler in the process: woken directly, nothing sent
        assert wakeups.take_dirty() == {4}
        assert send_local_wake(path, "marker")
        with anyio.fail_after(5):
            assert (await receiver.receive())[0] == b"marker"  # the next datagram: no ping
    assert [(p.changes, p.run_pks) for p in pings if p is not None] == [
        (frozenset({Change.RUNS_CHANGED}), frozenset({3})),
        (frozenset({Change.DAG_CHANGED}), frozenset()),
    ]
