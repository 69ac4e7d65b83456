"""Whether the metadata database answers, as this process last saw it.

One `Reachability` per opened database, updated by the retry loop (`db/retry.py`) after
every attempt and read by the health route, the API's write guard and housekeeping. Time
is whatever monotonic clock the caller passes (the retry loop passes `anyio.current_time()`),
so the state itself does no I/O and reads no clock.

Only a lost or refused connection counts as the database being unreachable (see
`retry.is_connection_loss`); a busy SQLite file or a PostgreSQL deadlock is contention,
not an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Reachability", "ReachabilityChange", "ReachabilitySnapshot"]

ReachabilityChange = Literal["lost", "recovered"]


@dataclass(frozen=True, slots=True)
class ReachabilitySnapshot:
    #: Monotonic time of the first failed attempt of the current outage, None when reachable.
    unreachable_since: float | None
    #: Monotonic time of the first success after the latest outage, None if none was seen.
    recovered_at: float | None
    #: How many outages this process has seen (a statistic).
    outages: int
    #: The driver's message of the latest connection failure.
    last_error: str | None


class Reachability:
    """The database's reachability; see the module docstring."""

    __slots__ = (
        "_last_error",
        "_last_failure",
        "_outages",
        "_recovered_at",
        "_unreachable_since",
    )

    def __init__(self) -> None:
        self._unreachable_since: float | None = None
        self._last_failure: float | None = None
        self._recovered_at: float | None = None
        self._outages = 0
        self._last_error: str | None = None

    @property
    def reachable(self) -> bool:
        return self._unreachable_since is None

    def record_failure(self, now: float, error: str) -> ReachabilityChange | None:
        """A connection was lost or refused at `now`; "lost" when this starts an outage."""
        self._last_error = error
        self._last_failure = now
        if self._unreachable_since is not None:
            return None
        self._unreachable_since = now
        self._outages += 1
        return "lost"

    def record_success(self, now: float) -> ReachabilityChange | None:
        """The database answered at `now`; "recovered" when this ends an outage."""
        if self._unreachable_since is None:
            return None
        self._unreachable_since = None
        self._recovered_at = now
        return "recovered"

    def failed_within(self, seconds: float, now: float) -> bool:
        """Unreachable, with a connection failure in the last `seconds` (a caller that
        refuses work on this still lets some through when nobody else is trying)."""
        return (
            self._unreachable_since is not None
            and self._last_failure is not None
            and now - self._last_failure < seconds
        )

    def seconds_since_recovery(self, now: float) -> float | None:
        """Seconds since the latest outage ended (0 during one); None if none was seen."""
        if self._unreachable_since is not None:
            return 0.0
        if self._recovered_at is None:
            return None
        return max(0.0, now - self._recovered_at)

    def snapshot(self) -> ReachabilitySnapshot:
        return ReachabilitySnapshot(
            unreachable_since=self._unreachable_since,
            recovered_at=self._recovered_at,
            outages=self._outages,
            last_error=self._last_error,
        )
