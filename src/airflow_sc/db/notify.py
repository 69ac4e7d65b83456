"""PostgreSQL LISTEN/NOTIFY behind the database port, on both adapters.

`notify(tx, channel, payload)` sends a notification inside the writer's own transaction, so
it reaches listeners only if (and when) that transaction commits.

`open_listener(db, channels)` listens on a dedicated connection that never goes back to a
pool, and yields a `Listener` to iterate:

- native adapter (asyncpg, asyncio): `Connection.add_listener` callbacks;
- thread adapter (psycopg 3, any backend): `Connection.notifies()` polled from a worker
  thread in short slices, so closing the listener returns within one slice;
- SQLite: a listener that never yields (one process owns an SQLite database; in-process
  wake-ups suffice there).

When the listening connection drops, the listener reconnects with backoff and, once it
listens again, yields `NotesMissed`: notifications sent in between are lost, so the consumer
should do a full sweep. It yields `NotesMissed` too when the consumer falls so far behind
that the buffer overflows.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Literal

import anyio
import anyio.abc
import sniffio
from sqlalchemy import text

from airflow_sc.db.database import AdapterName, Database, Transaction
from airflow_sc.db.engine import choose_adapter
from airflow_sc.db.url import DatabaseUrl

__all__ = [
    "APPLICATION_NAME",
    "MAX_PAYLOAD_BYTES",
    "Listener",
    "ListenerStatistics",
    "Note",
    "NotesMissed",
    "Notification",
    "notify",
    "open_listener",
]

log = logging.getLogger(__name__)

#: `application_name` of listening connections (find them in `pg_stat_activity`).
APPLICATION_NAME: Final = "airflow-sc-listener"
#: PostgreSQL rejects payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES: Final = 7999
#: Seconds one psycopg poll waits in its worker thread: the bound on closing latency.
POLL_SLICE: Final = 0.2
#: Seconds between liveness checks of an idle asyncpg listening connection.
KEEPALIVE_INTERVAL: Final = 15.0
#: Reconnect backoff: first delay and cap, in seconds.
RECONNECT_FIRST_DELAY: Final = 0.05
RECONNECT_MAX_DELAY: Final = 5.0
#: Notes buffered for a slow consumer before they are dropped for one `NotesMissed`.
DEFAULT_CAPACITY: Final = 10_000
#: Seconds closing the listening connection may take.
CLOSE_GRACE: Final = 5.0

_CHANNEL = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


@dataclass(frozen=True, slots=True)
class Note:
    """One notification: its channel, payload and the sending server process's id."""

    channel: str
    payload: str
    sender_pid: int


@dataclass(frozen=True, slots=True)
class NotesMissed:
    """Notifications may have been lost (reconnect or overflow): sweep everything."""

    reason: Literal["reconnected", "overflow"]


Notification = Note | NotesMissed


@dataclass(frozen=True, slots=True)
class ListenerStatistics:
    received: int
    reconnects: int
    dropped: int
    buffered: int


def _check_channel(channel: str) -> str:
    if not _CHANNEL.match(channel):
        raise ValueError(
            f"invalid notification channel {channel!r}: use lower-case letters, digits and "
            "underscores, at most 63 characters, not starting with a digit"
        )
    return channel


async def notify(tx: Transaction, channel: str, payload: str) -> None:
    """Send `payload` on `channel` when `tx` commits (nothing at all on SQLite).

    Identical notifications sent in one transaction are delivered once (PostgreSQL folds
    them). The payload must stay under `MAX_PAYLOAD_BYTES` encoded as UTF-8.
    """
    _check_channel(channel)
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"notification payload over {MAX_PAYLOAD_BYTES} bytes")
    if tx.dialect != "postgresql":
        return
    await tx.execute(_NOTIFY, {"channel": channel, "payload": payload})


class Listener:
    """Notifications as they arrive: `async for note in listener`.

    Iteration ends when the listener is closed. Only one task should consume it.
    """

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._notes: deque[Note] = deque()
        self._missed: NotesMissed | None = None
        self._arrived = anyio.Event()
        self._closed = False
        self._received = 0
        self._reconnects = 0
        self._dropped = 0

    # -- producer side (the connection task, in the event loop thread) ---------------------

    def _push(self, note: Note) -> None:
        self._received += 1
        if len(self._notes) >= self._capacity:
            self._dropped += len(self._notes) + 1
            self._notes.clear()
            self._missed = NotesMissed("overflow")
        else:
            self._notes.append(note)
        self._arrived.set()

    def _push_missed(self) -> None:
        self._reconnects += 1
        # Whatever is buffered is covered by the sweep the consumer is about to do.
        self._dropped += len(self._notes)
        self._notes.clear()
        self._missed = NotesMissed("reconnected")
        self._arrived.set()

    def _close(self) -> None:
        self._closed = True
        self._arrived.set()

    # -- consumer side --------------------------------------------------------------------

    def receive_nowait(self) -> Notification | None:
        """The next buffered notification, or None when there is none right now."""
        if self._missed is not None:
            missed, self._missed = self._missed, None
            return missed
        if self._notes:
            return self._notes.popleft()
        return None

    async def receive(self) -> Notification:
        """Wait for the next notification; `anyio.EndOfStream` once the listener is closed."""
        while True:
            ready = self.receive_nowait()
            if ready is not None:
                return ready
            if self._closed:
                raise anyio.EndOfStream
            arrived = self._arrived
            await arrived.wait()
            if self._arrived is arrived:
                self._arrived = anyio.Event()

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> Notification:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def statistics(self) -> ListenerStatistics:
        return ListenerStatistics(
            received=self._received,
            reconnects=self._reconnects,
            dropped=self._dropped,
            buffered=len(self._notes),
        )


@asynccontextmanager
async def open_listener(
    db: Database | str,
    channels: Sequence[str],
    *,
    capacity: int = DEFAULT_CAPACITY,
    adapter: AdapterName | None = None,
) -> AsyncIterator[Listener]:
    """Listen on `channels` of the database `db` (a `Database` or a URL).

    On entry the listening connection is open and LISTEN has run, so every notification
    committed afterwards is delivered. The connection driver follows `db`'s adapter (or
    `adapter`; for a URL, the automatic choice for the running backend). Connection errors
    on entry propagate; later drops are retried with backoff (see the module docstring).
    """
    names = [_check_channel(c) for c in channels]
    if not names:
        raise ValueError("open_listener needs at least one channel")
    url = db.url if isinstance(db, Database) else DatabaseUrl.parse(db)
    listener = Listener(capacity=capacity)
    if url.dialect != "postgresql":
        try:
            yield listener
        finally:
            listener._close()
        return
    if adapter is None:
        if isinstance(db, Database):
            adapter = db.adapter
        else:
            backend = sniffio.current_async_library()
            adapter = choose_adapter("auto", dialect=url.dialect, backend=backend)
    connect: _Connector = _AsyncpgConnector(url) if adapter == "native" else _PsycopgConnector(url)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(_serve_connection, connect, names, listener)
            try:
                yield listener
            finally:
                listener._close()
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The task group is an implementation detail: a connect error on entry, or an
        # error from the caller's block, comes out as itself, not wrapped in a group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from group.exceptions[0].__cause__
        raise


# -- the connection task ------------------------------------------------------------------


class _Connector:
    """Opens a listening connection and serves it until it drops (then raises)."""

    redacted_url: str

    async def listen(
        self,
        channels: Sequence[str],
        listener: Listener,
        *,
        task_status: anyio.abc.TaskStatus[None],
    ) -> None:
        raise NotImplementedError


async def _serve_connection(
    connect: _Connector,
    channels: Sequence[str],
    listener: Listener,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    listening_before = False
    failures = 0
    while True:
        try:
            async with anyio.create_task_group() as tg:
                # `start` returns once LISTEN succeeded: only then may the consumer sweep.
                await tg.start(connect.listen, channels, listener)
                if listening_before:
                    listener._push_missed()
                    log.info("notification listener reconnected to %s", connect.redacted_url)
                else:
                    listening_before = True
                    task_status.started()
                failures = 0
        except Exception as exc:
            if not listening_before:
                # The first connection's errors go to the caller of open_listener.
                raise _single(exc) from None
            if not _is_connection_error(exc):
                raise
            failures += 1
            log.warning(
                "notification listener lost %s (attempt %d): %s",
                connect.redacted_url,
                failures,
                _single(exc),
            )
        await anyio.sleep(min(RECONNECT_MAX_DELAY, RECONNECT_FIRST_DELAY * 2.0**failures))


def _single(exc: Exception) -> Exception:
    """The one error inside (nested) single-member exception groups."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _is_connection_error(exc: BaseException) -> bool:
    """A lost or refused connection, or a server going down: worth reconnecting."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_connection_error(inner) for inner in exc.exceptions)
    if isinstance(exc, OSError | TimeoutError | EOFError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(("08", "57P"))
    module = type(exc).__module__
    # psycopg: a lost connection is an OperationalError without SQLSTATE; asyncpg: an
    # InterfaceError ("connection is closed") or ConnectionDoesNotExistError (class 08).
    return (module.startswith("psycopg") and type(exc).__name__ == "OperationalError") or (
        module.startswith("asyncpg") and "InterfaceError" in type(exc).__name__
    )


def _dsn(url: DatabaseUrl) -> str:
    return url.url.set(drivername="postgresql").render_as_string(hide_password=False)


class _AsyncpgConnector(_Connector):
    def __init__(self, url: DatabaseUrl) -> None:
        self._dsn = _dsn(url)
        self.redacted_url = url.redacted()

    async def listen(
        self,
        channels: Sequence[str],
        listener: Listener,
        *,
        task_status: anyio.abc.TaskStatus[None],
    ) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            self._dsn, server_settings={"application_name": APPLICATION_NAME}
        )
        dropped = anyio.Event()

        def on_note(_conn: Any, pid: int, channel: str, payload: str) -> None:
            listener._push(Note(channel, payload, pid))

        def on_termination(_conn: Any) -> None:
            dropped.set()

        try:
            conn.add_termination_listener(on_termination)
            for channel in channels:
                await conn.add_listener(channel, on_note)
            task_status.started()
            while not conn.is_closed():
                with anyio.move_on_after(KEEPALIVE_INTERVAL):
                    await dropped.wait()
                if dropped.is_set() or conn.is_closed():
                    break
                with anyio.fail_after(KEEPALIVE_INTERVAL):
                    await conn.execute("SELECT 1")
        finally:
            with anyio.move_on_after(CLOSE_GRACE, shield=True):
                await _close_asyncpg(conn)
        raise ConnectionError("the listening connection was closed")


async def _close_asyncpg(conn: Any) -> None:
    if conn.is_closed():
        return
    try:
        await conn.close()
    except Exception:
        conn.terminate()


class _PsycopgConnector(_Connector):
    def __init__(self, url: DatabaseUrl) -> None:
        self._dsn = _dsn(url)
        self.redacted_url = url.redacted()

    async def listen(
        self,
        channels: Sequence[str],
        listener: Listener,
        *,
        task_status: anyio.abc.TaskStatus[None],
    ) -> None:
        conn = await anyio.to_thread.run_sync(partial(self._connect_sync, channels))
        try:
            task_status.started()
            while True:
                # Not abandoned on cancellation: the slice ends within POLL_SLICE seconds,
                # and the connection is never used by two threads at once.
                notes = await anyio.to_thread.run_sync(partial(_poll_sync, conn))
                for note in notes:
                    listener._push(note)
        finally:
            with anyio.move_on_after(CLOSE_GRACE, shield=True):
                await anyio.to_thread.run_sync(conn.close, abandon_on_cancel=True)

    def _connect_sync(self, channels: Sequence[str]) -> Any:
        import psycopg

        conn = psycopg.connect(
            self._dsn,
            autocommit=True,
            application_name=APPLICATION_NAME,
            connect_timeout=10,
            # Notice a silently dead peer (no traffic flows while nothing is sent).
            keepalives=1,
            keepalives_idle=int(KEEPALIVE_INTERVAL),
            keepalives_interval=5,
            keepalives_count=3,
        )
        try:
            for channel in channels:
                conn.execute(f'LISTEN "{channel}"')
        except BaseException:
            conn.close()
            raise
        return conn


def _poll_sync(conn: Any) -> list[Note]:
    notes = [
        Note(n.channel, n.payload, n.pid) for n in conn.notifies(timeout=POLL_SLICE, stop_after=1)
    ]
    if not notes and conn.closed:
        raise ConnectionError("the listening connection was closed")
    return notes
