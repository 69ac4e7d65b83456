"""What a zygote runs: a `ChildProgram` (and, for children with a channel, a `CallRelay`).

A program is named on the zygote's command line as ``module:attribute`` and imported by
the zygote, never by the parent (`zygote.py`). Its methods run in the zygote, except
`run`, which runs in the forked child.
"""

from __future__ import annotations

from typing import Any, Protocol

from airflow_sc.children.messages import Fork

__all__ = ["CallRelay", "ChildControl", "ChildProgram"]


class ChildControl(Protocol):
    """What a relay may do to the child it relays for."""

    def revoke(self, note: str, grace: float) -> None:
        """SIGTERM the child's group (SIGKILL after `grace`), noting why; the child
        ends as the signal makes it end."""

    def note(self, text: str) -> None:
        """A line in the program's notes for this child."""


class CallRelay(Protocol):
    """The zygote's part in one child's channel: what goes up, what comes down, and the
    calls the zygote makes for the child on a timer (heartbeats)."""

    def outgoing(self, call: dict[str, Any]) -> dict[str, Any]:
        """The child's call as it goes to the parent."""

    def incoming(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        """The parent's reply as the child gets it; None for a reply to the relay's own call."""

    def next_due(self) -> float | None:
        """When (`time.monotonic`) `due` has a call to make; None: nothing planned."""

    def due(self, now: float) -> dict[str, Any] | None:
        """The relay's own call to send now, if any."""


class ChildProgram(Protocol):
    """What a zygote's children do."""

    def warm_up(self, args: list[str]) -> None:
        """Once, in the zygote, before the first fork: import what every child needs.
        `args` are the zygote's command-line arguments after the program's name."""

    def prepare(self, fork: Fork) -> None:
        """In the zygote, before forking for `fork` (what it loads, the child inherits)."""

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay | None:
        """The relay of a child with a channel (None: calls and replies pass unchanged)."""

    def note(self, fork: Fork, text: str) -> None:
        """Write `text` where the child's owner reads why it was stopped (or nowhere)."""

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        """In the child: do the job, write the result (JSON) on `result_fd` and close it.

        `channel_fd` is the child's end of its channel (`Fork.channel`): one JSON call
        per line up, one reply per line down. A `MemoryError` that escapes ends the child
        as out of memory; any other exception with exit code 1 and its traceback on
        stderr.
        """
