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
    "SocketPublisher",
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


class SocketPublisher:
    """Coalesces a feed's notes and sends them to the one receiver at `path` (a feed's
    sender), without losing any while that receiver runs.

    For a receiver that must hear every change, such as the API server process of
    `airflow-sc run` (`cli._api_process`): `send_note` drops a note when the receiver's
    queue is full (`net.unix.max_dgram_qlen`, 10 datagrams on Linux), here the notes wait,
    merged into one, until the queue has room (the socket is connected, so the kernel says
    when: no polling). A note sent while nobody is bound is dropped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changes: set[Change] = set()
        self._runs: set[int] | None = set()
        self._origin: str | None = None
        self._pending = anyio.Event()

    def send(self, note: Note) -> None:
        """Queue `note` (sync, never blocks: `ChangeFeed.add_outbound`)."""
        self._changes.update(note.changes)
        self._origin = note.origin
        if self._runs is not None:
            self._runs = None if note.run_pks is None else self._runs | note.run_pks
        self._pending.set()

    async def run(self) -> None:
        """Send what is queued until cancelled."""
        sock: socket.socket | None = None
        try:
            while True:
                await self._pending.wait()
                self._pending = anyio.Event()
                note = Note.of(self._changes, self._runs, origin=self._origin)
                self._changes, self._runs = set(), set()
                sock = await self._deliver(sock, encode_note(note).encode())
        finally:
            if sock is not None:
                sock.close()

    async def _deliver(self, sock: socket.socket | None, payload: bytes) -> socket.socket | None:
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                sock.connect(os.fsencode(self.path))
            except OSError as exc:
                # Nobody bound (not yet, or gone): dropped; the next note reconnects.
                log.debug("no receiver at %s: %s", self.path, exc)
                sock.close()
                return None
        while True:
            try:
                sock.send(payload)
                return sock
            except BlockingIOError:
                await anyio.wait_writable(sock)  # the receiver's queue has room again
            except OSError as exc:
                log.debug("no receiver at %s: %s", self.path, exc)
                sock.close()
                return None


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
