"""A TTL cache in front of a secrets backend (usually the chain), shared by concurrent callers.

- Hits are served from memory until `ttl` seconds after the lookup that filled them.
- Misses ("not found") are cached for `negative_ttl`, at most `max_negative` of them
  (least recently used dropped first), so probing many absent keys cannot grow it.
- Single flight: while a key is being looked up, other callers of that key wait for the
  same answer instead of asking the backend again; different keys run concurrently.
- An error is not cached: the waiting callers get it, the next caller asks again. If the
  caller running the lookup is cancelled, one of the waiters takes over.

The clock is injected (`clock()` returns seconds) so tests move time without sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection

__all__ = ["CacheStatistics", "SecretsCache"]

Kind = Literal["connection", "variable", "config"]
_Key = tuple[Kind, str]


@dataclass(frozen=True, slots=True)
class CacheStatistics:
    hits: int
    misses: int
    lookups: int
    entries: int
    negative_entries: int
    in_flight: int


class _Flight:
    """One lookup in progress; waiters read its outcome after `done` is set."""

    __slots__ = ("abandoned", "done", "error", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.abandoned = False


class SecretsCache(SecretsBackend):
    """Caches another backend's answers; itself a `SecretsBackend`."""

    name = "cache"

    def __init__(
        self,
        backend: SecretsBackend,
        *,
        ttl: float = 60.0,
        negative_ttl: float = 10.0,
        max_negative: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_negative = max_negative
        self._clock = clock
        self._found: dict[_Key, tuple[float, Any]] = {}
        self._absent: OrderedDict[_Key, float] = OrderedDict()
        self._flights: dict[_Key, _Flight] = {}
        self._hits = self._misses = self._lookups = 0

    async def get_connection(self, conn_id: str) -> Connection | None:
        found: Connection | None = await self._get(
            ("connection", conn_id), self.backend.get_connection
        )
        return found

    async def get_variable(self, key: str) -> str | None:
        found: str | None = await self._get(("variable", key), self.backend.get_variable)
        return found

    async def get_config(self, key: str) -> str | None:
        found: str | None = await self._get(("config", key), self.backend.get_config)
        return found

    def invalidate(self, kind: Kind, key: str) -> None:
        """Forget one entry (after writing it, so the next read sees the new value)."""
        self._found.pop((kind, key), None)
        self._absent.pop((kind, key), None)

    def clear(self) -> None:
        self._found.clear()
        self._absent.clear()

    def statistics(self) -> CacheStatistics:
        return CacheStatistics(
            hits=self._hits,
            misses=self._misses,
            lookups=self._lookups,
            entries=len(self._found),
            negative_entries=len(self._absent),
            in_flight=len(self._flights),
        )

    async def aclose(self) -> None:
        await self.backend.aclose()

    # -- the cache ---------------------------------------------------------------------

    def _cached(self, key: _Key) -> tuple[bool, Any]:
        now = self._clock()
        entry = self._found.get(key)
        if entry is not None:
            if entry[0] > now:
                return True, entry[1]
            del self._found[key]
        expires = self._absent.get(key)
        if expires is not None:
            if expires > now:
                self._absent.move_to_end(key)
                return True, None
            del self._absent[key]
        return False, None

    def _store(self, key: _Key, value: Any) -> None:
        now = self._clock()
        if value is None:
            self._absent[key] = now + self._negative_ttl
            self._absent.move_to_end(key)
            while len(self._absent) > self._max_negative:
                self._absent.popitem(last=False)
        else:
            self._found[key] = (now + self._ttl, value)

    async def _get(self, key: _Key, lookup: Callable[[str], Awaitable[Any]]) -> Any:
        while True:
            hit, value = self._cached(key)
            if hit:
                self._hits += 1
                return value
            flight = self._flights.get(key)
            if flight is None:
                self._misses += 1
                return await self._lead(key, lookup)
            await flight.done.wait()
            if flight.abandoned:
                continue  # its leader was cancelled: look again (maybe lead this time)
            if flight.error is not None:
                raise flight.error
            return flight.value

    async def _lead(self, key: _Key, lookup: Callable[[str], Awaitable[Any]]) -> Any:
        flight = _Flight()
        self._flights[key] = flight
        try:
            self._lookups += 1
            value = await lookup(key[1])
        except Exception as exc:
            flight.error = exc
            raise
        except BaseException:
            # Cancelled (or interrupted): no answer to share; a waiter retries.
            flight.abandoned = True
            raise
        else:
            self._store(key, value)
            flight.value = value
            return value
        finally:
            del self._flights[key]
            flight.done.set()
