"""Detecting blocking calls in ``async def`` tasks that share one event loop.

`timed_steps(coro, watch)` drives a coroutine step by step (each ``send``/``throw`` is one
stretch of the task's code between two awaits) and measures each step. A step that holds
the event loop longer than the threshold is a blocking call: every other task on the loop
waited for it. A `BlockingWatchdog` thread samples the loop thread's stack while such a
step is still running, so the report says where the task blocked, not only that it did.
It works the same on asyncio and trio: both drive coroutines with ``send``/``throw``.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

__all__ = ["BlockingWatchdog", "timed_steps"]

T = TypeVar("T")

#: Called with (seconds the step held the loop, stack sampled while it did, or None).
BlockedCallback = Callable[[float, str | None], None]


class BlockingWatchdog:
    """A daemon thread that samples the loop thread's stack during an overlong step."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._step: tuple[int, float, int] | None = None  # (step id, started, thread id)
        self._samples: dict[int, str] = {}
        self._next_id = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="blocking-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def step_started(self) -> int:
        with self._lock:
            self._next_id += 1
            self._step = (self._next_id, time.perf_counter(), threading.get_ident())
            return self._next_id

    def step_ended(self, step_id: int) -> str | None:
        with self._lock:
            self._step = None
            return self._samples.pop(step_id, None)

    def _watch(self) -> None:
        interval = self.threshold / 2
        while not self._stop.wait(interval):
            with self._lock:
                step = self._step
                if step is None or step[0] in self._samples:
                    continue
                step_id, started, thread_id = step
                if time.perf_counter() - started < self.threshold:
                    continue
                frame = sys._current_frames().get(thread_id)
                if frame is not None:
                    self._samples[step_id] = "".join(traceback.format_stack(frame))


def timed_steps(
    coro: Coroutine[Any, Any, T], watchdog: BlockingWatchdog, on_blocked: BlockedCallback
) -> _TimedSteps[T]:
    """An awaitable running `coro`, reporting steps longer than the watchdog's threshold."""
    return _TimedSteps(coro, watchdog, on_blocked)


class _TimedSteps(Generic[T]):
    def __init__(
        self, coro: Coroutine[Any, Any, T], watchdog: BlockingWatchdog, on_blocked: BlockedCallback
    ) -> None:
        self._coro = coro
        self._watchdog = watchdog
        self._on_blocked = on_blocked

    def __await__(self) -> Generator[Any, Any, T]:
        coro, watchdog = self._coro, self._watchdog
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            step = watchdog.step_started()
            started = time.perf_counter()
            try:
                yielded = coro.send(to_send) if to_throw is None else coro.throw(to_throw)
            except StopIteration as done:
                self._check(step, started)
                result: T = done.value
                return result
            except BaseException:
                self._check(step, started)
                raise
            self._check(step, started)
            try:
                to_send, to_throw = (yield yielded), None
            except BaseException as exc:  # cancellation and the like go into the task
                to_send, to_throw = None, exc

    def _check(self, step: int, started: float) -> None:
        held = time.perf_counter() - started
        stack = self._watchdog.step_ended(step)
        if held >= self._watchdog.threshold:
            self._on_blocked(held, stack)
