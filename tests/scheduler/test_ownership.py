"""One scheduler per SQLite database, enforced across real processes; none on PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from airflow_sc.scheduler.ownership import (
    SchedulerAlreadyRunning,
    lock_path_for,
    open_scheduler_ownership,
)

pytestmark = pytest.mark.anyio

# A scheduler stand-in: takes ownership, says so, then holds it until stdin closes.
CLAIM = textwrap.dedent(
    """
    import sys, anyio
    from airflow_sc.scheduler.ownership import open_scheduler_ownership, SchedulerAlreadyRunning

    async def main(url):
        try:
            async with open_scheduler_ownership(url):
                print("owned", flush=True)
                await anyio.to_thread.run_sync(sys.stdin.read)
        except SchedulerAlreadyRunning as exc:
            print(exc, file=sys.stderr)
            sys.exit(3)

    anyio.run(main, sys.argv[1])
    """
)


async def claim_in_child(url: str) -> tuple[int, str]:
    """Run a second process that tries to own `url`; its exit code and stderr."""
    with anyio.fail_after(20):
        result = await anyio.run_process([sys.executable, "-c", CLAIM, url], input=b"", check=False)
    return result.returncode, result.stderr.decode()


async def test_a_second_scheduler_process_on_the_same_sqlite_file_is_refused(
    sqlite_url: str,
) -> None:
    async with open_scheduler_ownership(sqlite_url) as ownership:
        assert ownership.exclusive
        code, stderr = await claim_in_child(sqlite_url)
    assert code == 3
    database = sqlite_url.removeprefix("sqlite:///")
    assert f"another scheduler already runs on the SQLite database sqlite:///{database}" in stderr
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in stderr
    # Once the first scheduler is gone, the next one starts.
    code, stderr = await claim_in_child(sqlite_url)
    assert (code, stderr) == (0, "")


async def test_a_killed_owner_does_not_block_the_next_scheduler(sqlite_url: str) -> None:
    async with await anyio.open_process([sys.executable, "-c", CLAIM, sqlite_url]) as child:
        assert child.stdout is not None
        with anyio.fail_after(20):
            async for line in TextReceiveStream(child.stdout):
                assert line.strip() == "owned"
                break
        with pytest.raises(SchedulerAlreadyRunning, match=f"pid {child.pid} "):
            async with open_scheduler_ownership(sqlite_url):
                pass
        child.send_signal(signal.SIGKILL)
        await child.wait()
    async with open_scheduler_ownership(sqlite_url) as ownership:
        assert ownership.lock_path is not None
        assert (
            ownership.lock_path.read_text() == f"pid {os.getpid()} on host {socket.gethostname()}\n"
        )


async def test_the_same_process_cannot_own_the_database_twice(sqlite_url: str) -> None:
    async with open_scheduler_ownership(sqlite_url):
        with pytest.raises(SchedulerAlreadyRunning):
            async with open_scheduler_ownership(sqlite_url):
                pass
    async with open_scheduler_ownership(sqlite_url):
        pass


async def test_postgresql_allows_several_schedulers(postgres_url: str) -> None:
    async with (
        open_scheduler_ownership(postgres_url) as first,
        open_scheduler_ownership(postgres_url) as second,
    ):
        assert (first.lock_path, first.exclusive) == (None, False)
        assert (second.lock_path, second.exclusive) == (None, False)


def test_the_lock_file_sits_next_to_the_database(tmp_path: Path) -> None:
    from airflow_sc.db.url import DatabaseUrl

    path = lock_path_for(DatabaseUrl.parse(f"sqlite:///{tmp_path}/meta.db"))
    assert path is not None
    assert path.name == "meta.db.scheduler.lock"
    assert lock_path_for(DatabaseUrl.parse("sqlite://")) is None
    assert lock_path_for(DatabaseUrl.parse("postgresql://u@h/db")) is None
