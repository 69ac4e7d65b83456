"""Two-phase shutdown state, shared by the signal handler and the components."""

from __future__ import annotations

import math

import anyio

#: Seconds the drain deadline allows beyond the graces it is made of: recording what the
#: executors stopped, a worker that must be reaped, the other components, the database.
DRAIN_MARGIN = 5.0


def drain_deadline(
    *, shutdown_grace: float, terminate_grace: float, api_drain: float = 0.0
) -> float:
    """Seconds from the first signal until the root cancel scope is cancelled.

    A graceful stop takes, one after the other: `shutdown_grace` for running tasks to
    finish, `terminate_grace` between SIGTERM and SIGKILL for those that did not, the API's
    drain (`api_drain`, when the process serves it), and `DRAIN_MARGIN` for the rest. The
    deadline is a bound, not a wait: a drain that finishes earlier exits earlier.
    """
    return shutdown_grace + terminate_grace + api_drain + DRAIN_MARGIN


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
