"""`ChangeFeed`: the one interface of wake-ups in a process.

Whoever changes what others work on announces it here (`announce`, or the named shortcuts:
a try's end from the execution service, an operator action, a stored DAG version, the
scheduler's stages moving runs along); whoever acts on changes subscribes (`subscribe`):
the scheduler's stages while a scheduler runs in this process (`stage_subscriber`), and
any other in-process consumer, such as a live view following "runs and task instances of
these runs changed" (every `Note` but `DAG_CHANGED` names the runs, or None for all).
Delivery to subscribers is in process and immediate; each transport to other processes is
its own module and plugs in on both sides:

- outbound: `add_outbound(send)` carries every announced note away (PostgreSQL NOTIFY,
  `changes.postgres.NotifyPublisher`; the SQLite scheduler's datagram socket,
  `changes.local_socket.send_note`);
- inbound: a receiver hands what it heard to `deliver` (`changes.postgres.serve_notify_bridge`,
  `changes.local_socket.serve_socket_receiver`), which reaches the subscribers only.

Subscribers and senders are sync and must not block (they set events, queue, send a
datagram); announcing never waits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager

from airflow_sc.scheduler.changes.notes import Change, Note

__all__ = ["ChangeFeed", "Listener"]

log = logging.getLogger(__name__)

#: Receives notes; must not block.
Listener = Callable[[Note], None]


class ChangeFeed:
    """Announces changes to this process's subscribers and to the outbound transports."""

    def __init__(self, *, origin: str | None = None) -> None:
        #: Names this process on the wire, so that it skips its own notes coming back.
        self.origin = origin or f"process-{uuid.uuid4().hex[:12]}"
        self._subscribers: list[Listener] = []
        self._outbound: list[Listener] = []

    # -- consumers ---------------------------------------------------------------------------

    @contextmanager
    def subscribe(self, listener: Listener) -> Iterator[None]:
        """Deliver every note to `listener` while the block runs."""
        self._subscribers.append(listener)
        try:
            yield
        finally:
            self._subscribers.remove(listener)

    def add_outbound(self, send: Listener) -> None:
        """Carry every announced note to other processes with `send` too."""
        self._outbound.append(send)

    # -- producers ---------------------------------------------------------------------------

    def announce(self, changes: Iterable[Change], run_pks: Collection[int] | None = ()) -> None:
        """Tell this process's subscribers and the other processes about `changes`."""
        note = Note.of(changes, run_pks, origin=self.origin)
        self.deliver(note)
        for send in self._outbound:
            try:
                send(note)
            except Exception:  # a transport's trouble: the receivers' sweep covers it
                log.warning("could not send %s to other processes", note, exc_info=True)

    def deliver(self, note: Note) -> None:
        """Hand `note` (heard from another process, or announced here) to the subscribers."""
        for listener in list(self._subscribers):
            listener(note)

    def tis_finished(self, run_pks: Collection[int]) -> None:
        """Tries of these runs ended (the execution service recorded how)."""
        self.announce([Change.TIS_FINISHED], run_pks)

    def runs_progressed(self, run_pks: Collection[int] | None) -> None:
        """The scheduler moved these runs or their task instances along (None: some runs)."""
        if run_pks is None or run_pks:
            self.announce([Change.RUNS_PROGRESSED], run_pks)

    def dag_changed(self) -> None:
        """A DAG was stored, changed, paused or unpaused."""
        self.announce([Change.DAG_CHANGED])

    def operator_changed(self, run_pks: Collection[int]) -> None:
        """What an operator action's `wake` means (`airflow_sc.actions.Wake`): these runs
        were created or changed; no runs at all: a DAG was paused or unpaused."""
        if run_pks:
            self.announce([Change.RUNS_CHANGED], run_pks)
        else:
            self.announce([Change.DAG_CHANGED])
