"""Start components in dependency order; drain them in reverse; fail as one.

A component is `async def serve_x(..., *, shutdown_trigger, task_status)`: it calls
`task_status.started(handle)` once usable, stops taking new work when `shutdown_trigger()`
returns, and returns when its work is finished. It must not return before that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus


class ServeFunction(Protocol):
    async def __call__(
        self,
        *,
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: TaskStatus[Any],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    serve: ServeFunction


class ComponentFailed(Exception):
    """A component raised (or stopped on its own); `__cause__` holds the original error."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"component {name!r} {message}")
        self.component = name


async def serve_components(
    components: Sequence[Component],
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[dict[str, Any]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run `components` until `shutdown_trigger()` returns, then stop them newest first.

    Each component is started with `await tg.start(...)`, so it is ready before the next
    one starts; the started handles are reported by name. When one raises, the task group
    cancels the others and the error surfaces as `ComponentFailed` from the original.
    """
    async with anyio.create_task_group() as tg:
        running: list[tuple[anyio.Event, anyio.Event]] = []
        handles: dict[str, Any] = {}
        for component in components:
            stop, done = anyio.Event(), anyio.Event()
            handles[component.name] = await tg.start(_supervise, component, stop, done)
            running.append((stop, done))
        task_status.started(handles)
        await shutdown_trigger()
        # Drain newest first: a component's dependencies outlive it (the API that running
        # tasks report to stops after the executor that runs them).
        for stop, done in reversed(running):
            stop.set()
            await done.wait()


async def _supervise(
    component: Component,
    stop: anyio.Event,
    done: anyio.Event,
    *,
    task_status: TaskStatus[Any],
) -> None:
    try:
        await component.serve(shutdown_trigger=stop.wait, task_status=task_status)
    except Exception as exc:
        raise ComponentFailed(component.name, "failed") from exc
    finally:
        done.set()
    if not stop.is_set():
        raise ComponentFailed(component.name, "stopped before shutdown was requested")
