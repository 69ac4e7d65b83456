"""Detect blocking disk and network I/O on the event loop's thread, with audit hooks.

`sys.addaudithook` cannot be removed, so one hook is installed for the whole process and
records only while a `BlockingIoRecorder` is active, and only events raised on the thread
it watches. Recorded: opening files (`open`, `os.open`'s `open` event), `sqlite3.connect`,
name resolution, and `connect`/`sendall`-style calls on *blocking* sockets. Non-blocking
socket calls (asyncio/trio transports, asyncpg) are what an event loop is for and are not
recorded.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_FILE_EVENTS = frozenset({"open", "sqlite3.connect", "os.listdir", "os.scandir"})
_RESOLVE_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"})
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.bind"})


@dataclass
class BlockingIoRecorder:
    thread_id: int
    events: list[tuple[str, str]] = field(default_factory=list)

    def record(self, event: str, args: tuple[Any, ...]) -> None:
        if threading.get_ident() != self.thread_id:
            return
        if event in _FILE_EVENTS or event in _RESOLVE_EVENTS:
            self.events.append((event, repr(args[:2])))
        elif event in _SOCKET_EVENTS:
            sock = args[0]
            if isinstance(sock, socket.socket) and sock.gettimeout() != 0.0:
                self.events.append((event, repr(args[1:2])))


_active: list[BlockingIoRecorder] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _active and (event in _FILE_EVENTS or event in _RESOLVE_EVENTS or event in _SOCKET_EVENTS):
        for recorder in _active:
            recorder.record(event, args)


_installed = False


@contextmanager
def record_blocking_io() -> Iterator[BlockingIoRecorder]:
    """Record blocking I/O on the calling thread (the event loop's, in an async test)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    recorder = BlockingIoRecorder(threading.get_ident())
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.remove(recorder)
