"""Two-phase shutdown state, shared by the signal handler and the components."""

from __future__ import annotations

import math

import anyio


class Shutdown:
    """Phase one (`request_drain`): stop taking new work and let running work finish.

    Phase two is a cancellation of the root cancel scope, issued by whoever owns it (the
    signal handler, on a second signal or when the drain deadline passes); `forced_by`
    records why it happened so the process can report it.
    """

    def __init__(self) -> None:
        self._drain = anyio.Event()
        self.reason: str | None = None
        #: Monotonic deadline by which the drain must finish (`inf` until requested).
        self.deadline: float = math.inf
        #: None, or what cut the drain short: a second signal's name (`SIGINT`) or `deadline`.
        self.forced_by: str | None = None

    @property
    def draining(self) -> bool:
        return self._drain.is_set()

    def request_drain(self, reason: str, *, grace: float) -> None:
        """Start the graceful drain; later calls keep the first reason and deadline."""
        if self._drain.is_set():
            return
        self.reason = reason
        self.deadline = anyio.current_time() + grace
        self._drain.set()

    async def wait_drain(self) -> None:
        """Return once a drain has been requested: the `shutdown_trigger` components get."""
        await self._drain.wait()
