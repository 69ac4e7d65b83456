"""The coalescing wake-up between stages."""

from __future__ import annotations

import anyio
import pytest

from airflow_sc.scheduler.wakeups import StageWakeups, Wakeup

pytestmark = pytest.mark.anyio


async def test_a_burst_of_sets_while_busy_costs_one_more_pass() -> None:
    wakeup = Wakeup()
    passes = 0
    busy = anyio.Event()
    go_on = anyio.Event()
    done = anyio.Event()

    async def stage() -> None:
        nonlocal passes
        while True:
            woken = await wakeup.wait()
            assert woken
            passes += 1
            if passes == 1:
                busy.set()
                await go_on.wait()
            else:
                done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stage)
        wakeup.set()
        await busy.wait()
        for _ in range(100):
            wakeup.set()  # never blocks
        go_on.set()
        await done.wait()
        # Nothing pending: the stage stays asleep.
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert passes == 2
    assert wakeup.statistics() == 101


async def test_wait_returns_false_after_the_sweep_timeout() -> None:
    wakeup = Wakeup()
    with anyio.fail_after(5):
        assert await wakeup.wait(0.01) is False
    wakeup.set()
    assert await wakeup.wait(10) is True


async def test_dirty_runs_are_taken_once_and_wake_schedule_tis() -> None:
    wakeups = StageWakeups()
    wakeups.mark_dirty(3)
    wakeups.mark_dirty([4, 3])
    assert wakeups.schedule_tis.is_set()
    assert wakeups.take_dirty() == {3, 4}
    assert wakeups.take_dirty() == set()
