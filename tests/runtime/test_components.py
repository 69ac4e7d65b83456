"""The supervision tree's contract: ordered start, reverse drain, one failure stops all."""

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from airflow_sc.runtime import Component, ComponentFailed, first_component_failure, serve_components

pytestmark = pytest.mark.anyio

Trigger = Callable[[], Awaitable[None]]


def recording(name: str, events: list[str], *, drain_steps: int = 0) -> Component:
    async def serve(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
        events.append(f"start {name}")
        task_status.started(name.upper())
        await shutdown_trigger()
        for _ in range(drain_steps):
            await anyio.lowlevel.checkpoint()
        events.append(f"stop {name}")

    return Component(name, serve)


async def test_start_in_order_and_drain_newest_first() -> None:
    events: list[str] = []
    stop = anyio.Event()
    components = [recording(n, events, drain_steps=3) for n in ("db", "executor", "api")]
    async with anyio.create_task_group() as tg:
        handles = await tg.start(
            lambda task_status: serve_components(
                components, shutdown_trigger=stop.wait, task_status=task_status
            )
        )
        assert handles == {"db": "DB", "executor": "EXECUTOR", "api": "API"}
        assert events == ["start db", "start executor", "start api"]
        stop.set()
    assert events[3:] == ["stop api", "stop executor", "stop db"]


async def test_failure_cancels_siblings_and_keeps_original_error() -> None:
    cleaned_up = anyio.Event()
    boom = anyio.Event()

    async def steady(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned_up.set()

    async def failing(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
        task_status.started()
        await boom.wait()
        raise ValueError("disk on fire")

    async def run_tree() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(
                lambda task_status: serve_components(
                    [Component("steady", steady), Component("failing", failing)],
                    shutdown_trigger=anyio.sleep_forever,
                    task_status=task_status,
                )
            )
            boom.set()

    with pytest.raises(BaseExceptionGroup) as info:
        await run_tree()
    failure = first_component_failure(info.value)
    assert failure is not None
    assert failure.component == "failing"
    assert isinstance(failure.__cause__, ValueError)
    assert str(failure.__cause__) == "disk on fire"
    assert cleaned_up.is_set()


async def test_failure_during_start_stops_earlier_components() -> None:
    events: list[str] = []

    async def broken(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
        raise OSError("address already in use")

    with pytest.raises(BaseExceptionGroup) as info:
        await serve_components(
            [recording("db", events), Component("api", broken)],
            shutdown_trigger=anyio.sleep_forever,
        )
    failure = first_component_failure(info.value)
    assert isinstance(failure, ComponentFailed)
    assert failure.component == "api"
    assert isinstance(failure.__cause__, OSError)
    assert events == ["start db"]  # started, then cancelled: it never reached its drain


async def test_component_returning_early_is_a_failure() -> None:
    async def quitter(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
        task_status.started()

    with pytest.raises(BaseExceptionGroup) as info:
        await serve_components(
            [Component("quitter", quitter)], shutdown_trigger=anyio.sleep_forever
        )
    failure = first_component_failure(info.value)
    assert failure is not None
    assert "stopped before shutdown was requested" in str(failure)
