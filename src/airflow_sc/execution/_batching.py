"""Coalescing calls: many concurrent callers, one batched flush at a time.

The first caller that finds no flush running becomes the leader and flushes everything
pending; callers arriving meanwhile wait and are served by the next flush. One call alone
pays no added latency; a burst of a thousand costs a handful of transactions.

A flush of writes runs shielded (`shield=True`): once started it commits and every caller
in it gets its answer, even if the leader's own caller is cancelled meanwhile. The shield
holds for `shield_grace` seconds after that cancellation, not for ever: a flush that waits
out a database outage must not keep the process from stopping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

__all__ = ["Coalescer"]

#: Seconds a shielded flush may go on once its leader's caller is cancelled.
SHIELD_GRACE = 10.0

In = TypeVar("In")
Out = TypeVar("Out")


class _Slot(Generic[In, Out]):
    __slots__ = ("done", "error", "item", "value")

    def __init__(self, item: In) -> None:
        self.item = item
        self.done = False
        self.value: Out | None = None
        self.error: BaseException | None = None


class Coalescer(Generic[In, Out]):
    """`await call(item)` -> `flush([items...])[i]`, batching concurrent callers."""

    def __init__(
        self,
        flush: Callable[[Sequence[In]], Awaitable[Sequence[Out]]],
        *,
        shield: bool = False,
        shield_grace: float = SHIELD_GRACE,
    ) -> None:
        self._flush = flush
        self._shield = shield
        self._shield_grace = shield_grace
        self._pending: list[_Slot[In, Out]] = []
        self._flushing = False
        # Created by the first leader: the coalescer may be built outside an event loop.
        self._flushed: anyio.Event | None = None

    async def call(self, item: In) -> Out:
        slot: _Slot[In, Out] = _Slot(item)
        self._pending.append(slot)
        while not slot.done:
            if self._flushing and self._flushed is not None:
                await self._flushed.wait()
                continue
            await self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    async def _lead(self) -> None:
        self._flushing = True
        self._flushed = anyio.Event()
        batch, self._pending = self._pending, []
        try:
            items = [slot.item for slot in batch]
            results = await (self._flush_shielded(items) if self._shield else self._flush(items))
            for slot, value in zip(batch, results, strict=True):
                slot.value = value
        except BaseException as exc:
            for slot in batch:
                slot.error = RuntimeError(f"the batch this call was in failed: {exc!r}")
            raise
        finally:
            for slot in batch:
                slot.done = True
            self._flushing = False
            self._flushed.set()

    async def _flush_shielded(self, items: list[In]) -> Sequence[Out]:
        """`flush(items)` shielded from cancellation for `shield_grace` seconds after it."""
        shielded = anyio.CancelScope(shield=True)
        grace = self._shield_grace

        async def bound_on_cancel() -> None:
            try:
                await anyio.sleep_forever()
            finally:  # the caller was cancelled, or the flush is over
                shielded.deadline = min(shielded.deadline, anyio.current_time() + grace)

        failed: Exception | None = None
        results: Sequence[Out] = ()
        async with anyio.create_task_group() as watcher:
            watcher.start_soon(bound_on_cancel)
            with shielded:
                try:
                    results = await self._flush(items)
                except Exception as exc:  # raised below, not wrapped in the watcher's group
                    failed = exc
            watcher.cancel_scope.cancel()
        if failed is not None:
            raise failed
        if shielded.cancelled_caught:
            await anyio.lowlevel.checkpoint()  # raises the caller's cancellation
            raise RuntimeError("the batch was cut short after its caller was cancelled")
        return results
