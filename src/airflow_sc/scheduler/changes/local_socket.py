"""Notes to the SQLite scheduler's process over a local datagram socket.

SQLite has no notifications, and its one scheduler (`scheduler.ownership`) may run in
another process on the same host: that process binds a UNIX datagram socket,
`<AIRFLOW_SC_HOME>/run/scheduler.sock` (`serve_socket_receiver`), and delivers what it
receives to its `ChangeFeed`. Another process (``airflow-sc dags trigger``, a standalone
API server) sends notes there (`send_note`, `wake_scheduler`) after its write committed.
Sending is best effort and never waits: when no scheduler listens the note is dropped, and
the scheduler's sweep timer still finds the change later.
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
from airflow_sc.scheduler.changes.feed import ChangeFeed
from airflow_sc.scheduler.changes.notes import Change, Note, decode_note, encode_note
from airflow_sc.scheduler.changes.postgres import publish

__all__ = [
    "send_note",
    "send_payload",
    "serve_socket_receiver",
    "wake_scheduler",
    "wake_socket_path",
]

log = logging.getLogger(__name__)

#: Longest socket path used as is (`sun_path` holds 104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 100


def wake_socket_path(home: Path, listener: str = "scheduler") -> Path:
    """Where `listener` of the deployment at `home` listens for notes: the scheduler, or
    (`"api"`) the API server process `airflow-sc run` supervises (`cli._api_process`).

    A home too deep for a socket path gets a short path in the temporary folder instead,
    named after the home so each deployment keeps its own.
    """
    path = home / "run" / f"{listener}.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:16]
    suffix = "" if listener == "scheduler" else f"-{listener}"
    return Path(tempfile.gettempdir()) / f"airflow-sc-{digest}{suffix}.sock"


def send_payload(path: Path, payload: str) -> bool:
    """Send one datagram to the scheduler listening at `path`; False if it did not arrive."""
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


def send_note(path: Path, note: Note) -> None:
    """Send `note` to the scheduler at `path`, best effort (a `ChangeFeed` sender, with
    `path` bound)."""
    send_payload(path, encode_note(note))


async def wake_scheduler(
    db: Database, home: Path, changes: Iterable[Change], run_pks: Collection[int] = ()
) -> None:
    """Tell the deployment's schedulers about a write this (short-lived) process committed:
    over NOTIFY on PostgreSQL, to the scheduler's socket on SQLite."""
    changes = list(changes)
    if db.dialect == "postgresql":

        async def body(tx: Transaction) -> None:
            await publish(tx, changes, run_pks)

        await db.run(body)
    else:
        send_note(wake_socket_path(home), Note.of(changes, run_pks))


async def serve_socket_receiver(
    path: Path,
    feed: ChangeFeed,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver the notes sent to `path` to `feed` until cancelled.

    The socket file is replaced at start (a previous scheduler killed with -9 leaves one)
    and removed on the way out if it is still this receiver's.
    """
    await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
    sock = await anyio.create_unix_datagram_socket(local_path=path, local_mode=0o600)
    inode = (await anyio.Path(path).stat()).st_ino
    try:
        async with sock:
            task_status.started()
            async for packet, _ in sock:
                note = decode_note(packet.decode(errors="replace"))
                if note is not None and note.origin != feed.origin:
                    feed.deliver(note)
    finally:
        with suppress(OSError):
            if os.stat(path).st_ino == inode:
                os.unlink(path)
