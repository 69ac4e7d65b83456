"""When a try's call of the execution API is tried again (pure: no I/O, no clock).

A try must not fail because the API server or its database is briefly out of reach (a
restart, a failover, a database outage during which the API answers 503). So a call is
retried, within a window, when the server said so or never saw it:

- 503 Service Unavailable: after its ``Retry-After`` (seconds or an HTTP date, at most
  `RETRY_AFTER_CAP`), else after the backoff below;
- the connection could not be made (refused, reset before sending, connect timeout): the
  request never reached the server, so any call is safe to send again;
- a read timeout or a connection lost mid-call, for the calls that may be sent twice
  (``GET``, ``PUT``, ``DELETE``): the server may be waiting for its database. Starting
  and finishing a try (``PATCH``) and ``POST`` are compare-and-set or create once: not
  retried after a request that may have arrived.

The backoff is exponential from `BASE_DELAY`, capped at `MAX_DELAY`, with equal jitter (as
the database layer's), and the whole call gives up once `window` seconds have passed since
its first attempt (the try's heartbeat timeout: past it the scheduler presumes the try dead
anyway).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "BASE_DELAY",
    "IDEMPOTENT_METHODS",
    "MAX_DELAY",
    "RETRY_AFTER_CAP",
    "Failure",
    "next_delay",
    "retry_after_seconds",
]

BASE_DELAY: Final = 0.1
MAX_DELAY: Final = 5.0
#: The longest ``Retry-After`` honoured (a larger one waits this long, then tries again).
RETRY_AFTER_CAP: Final = 30.0
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong with one attempt."""

    method: str
    #: The status the server answered, None when there was no answer.
    status: int | None = None
    retry_after: str | None = None
    #: No connection was made: the request never left.
    not_sent: bool = False
    #: The request may have arrived but no answer came (a read timeout, a connection
    #: lost while sending or reading).
    maybe_sent: bool = False


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header's wait in seconds (None when absent or unreadable)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay(
    failure: Failure,
    attempt: int,
    *,
    elapsed: float,
    window: float,
    jitter: float,
    now: datetime,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to give up.

    `elapsed` is the time since the first attempt, `jitter` a number in [0, 1).
    """
    retryable = (
        failure.status == 503
        or failure.not_sent
        or (failure.maybe_sent and failure.method.upper() in IDEMPOTENT_METHODS)
    )
    if not retryable or elapsed >= window:
        return None
    step = min(MAX_DELAY, BASE_DELAY * 2.0 ** min(attempt - 1, 60))
    delay = step / 2 + step / 2 * jitter
    if failure.status == 503:
        asked = retry_after_seconds(failure.retry_after, now)
        if asked is not None:
            delay = min(asked, RETRY_AFTER_CAP)
    return min(delay, window - elapsed)
