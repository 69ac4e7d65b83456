"""The loop every stage runs: one pass, then wait for a wake-up or the sweep timer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus

from airflow_sc.scheduler.wakeups import Passes, Wakeup

#: A pass gets whether it was woken (False: the sweep timer) and returns how many seconds
#: until it wants to run again on its own (None: the sweep interval is soon enough).
Pass = Callable[[bool], Awaitable[float | None]]


async def run_stage(
    wakeup: Wakeup,
    one_pass: Pass,
    *,
    sweep_interval: float,
    passes: Passes,
    stop: anyio.Event,
    task_status: TaskStatus[None],
) -> None:
    """Run `one_pass` at start (catching up after a restart) and after every wake-up.

    Returns after the pass during which `stop` is set (set it, then `wakeup.set()`): a
    graceful stop never interrupts a batch. Cancellation still stops it anywhere.
    """
    task_status.started()
    woken = False
    while not stop.is_set():
        again = await one_pass(woken)
        passes.bump()
        if stop.is_set():
            return
        timeout = sweep_interval if again is None else max(0.0, min(sweep_interval, again))
        woken = await wakeup.wait(timeout)
        await anyio.lowlevel.checkpoint()
