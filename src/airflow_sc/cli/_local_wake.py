"""How a command in another process wakes the scheduler after it wrote to the database.

On PostgreSQL the note goes out through LISTEN/NOTIFY (`scheduler.notify.publish`), which
every scheduler listens to. SQLite has no notifications, and its one scheduler
(`scheduler.ownership`) runs in another process on the same host: that scheduler binds a
UNIX datagram socket, `<AIRFLOW_SC_HOME>/run/scheduler.sock`, and a command such as
``airflow-sc dags trigger`` sends it the same small JSON note (`encode_ping`) after its
write committed. Sending is best effort and never waits: when no scheduler listens the note
is dropped, and the scheduler's sweep timer still finds the change later.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Collection, Iterable
from contextlib import suppress
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Database, Transaction
from airflow_sc.scheduler.deps import Stage, StageDeps
from airflow_sc.scheduler.notify import Change, apply_ping, decode_ping, encode_ping, publish
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = [
    "local_wake_stage",
    "send_local_wake",
    "wake_scheduler",
    "wake_socket_path",
]

log = logging.getLogger(__name__)

#: Longest socket path used as is (`sun_path` holds 104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 100


def wake_socket_path(home: Path) -> Path:
    """Where the scheduler of the deployment at `home` listens for wake-ups.

    A home too deep for a socket path gets a short path in the temporary folder instead,
    named after the home so each deployment keeps its own.
    """
    path = home / "run" / "scheduler.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"airflow-sc-{digest}.sock"


def send_local_wake(path: Path, payload: str) -> bool:
    """Send one note to the scheduler listening at `path`; False when it did not arrive."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(payload.encode(), os.fsencode(path))
        except OSError as exc:
            # No socket file, a stale one (nobody bound), or a full receive buffer (the
            # scheduler has notes queued already): the sweep covers it.
            log.debug("no scheduler woken at %s: %s", path, exc)
            return False
    return True


async def wake_scheduler(
    db: Database, home: Path, changes: Iterable[Change], run_pks: Collection[int] = ()
) -> None:
    """Tell the deployment's schedulers about a write this process committed."""
    changes = list(changes)
    if db.dialect == "postgresql":

        async def body(tx: Transaction) -> None:
            await publish(tx, changes, run_pks)

        await db.run(body)
    else:
        send_local_wake(wake_socket_path(home), encode_ping(changes, run_pks))


def local_wake_stage(path: Path) -> Stage:
    """A scheduler stage applying the notes sent to `path` (on SQLite; elsewhere it returns).

    The socket file is replaced at start (a previous scheduler killed with -9 leaves one)
    and removed on the way out if it is still this stage's.
    """

    async def serve_local_wake(
        deps: StageDeps,
        wakeups: StageWakeups,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        if deps.db.dialect != "sqlite":
            task_status.started()
            return
        await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
        sock = await anyio.create_unix_datagram_socket(local_path=path, local_mode=0o600)
        inode = (await anyio.Path(path).stat()).st_ino
        try:
            async with sock:
                task_status.started()
                async for packet, _ in sock:
                    ping = decode_ping(packet.decode(errors="replace"))
                    if ping is not None:
                        apply_ping(ping, wakeups)
        finally:
            with suppress(OSError):
                if os.stat(path).st_ino == inode:
                    os.unlink(path)

    return serve_local_wake
