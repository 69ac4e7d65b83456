"""The coalescer's shielded flush: it outlives its caller's cancellation, but not for ever."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from airflow_sc.execution._batching import Coalescer

pytestmark = pytest.mark.anyio


async def test_a_shielded_flush_finishes_after_its_caller_is_cancelled() -> None:
    flushed: list[list[int]] = []
    started = anyio.Event()
    release = anyio.Event()

    async def flush(items: Sequence[int]) -> list[int]:
        started.set()
        await release.wait()
        flushed.append(list(items))
        return [i * 2 for i in items]

    coalescer = Coalescer(flush, shield=True, shield_grace=30)
    async with anyio.create_task_group() as tg:
        tg.start_soon(coalescer.call, 1)
        await started.wait()
        tg.cancel_scope.cancel()
        release.set()
    assert flushed == [[1]]  # the write went through although its caller was cancelled


async def test_a_shielded_flush_that_never_ends_lets_go_after_the_grace() -> None:
    started = anyio.Event()

    async def flush(items: Sequence[int]) -> list[int]:
        started.set()
        await anyio.sleep_forever()  # a database that never comes back
        raise AssertionError("unreachable")

    coalescer = Coalescer(flush, shield=True, shield_grace=0.2)
    with anyio.fail_after(10):  # the bound of the test, far above the grace
        async with anyio.create_task_group() as tg:
            tg.start_soon(coalescer.call, 1)
            await started.wait()
            tg.cancel_scope.cancel()


async def test_an_error_of_a_shielded_flush_comes_out_as_itself() -> None:
    async def flush(items: Sequence[int]) -> list[int]:
        raise ConnectionRefusedError(111, "refused")

    coalescer = Coalescer(flush, shield=True)
    with pytest.raises(ConnectionRefusedError):
        await coalescer.call(1)
