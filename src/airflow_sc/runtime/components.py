"""Start components in dependency order; drain them in reverse; fail as one.

A component is `async def serve_x(..., *, shutdown_trigger, task_status)`: it calls
`task_status.started(handle)` once usable, stops taking new work when `shutdown_trigger()`
returns, and returns when its work is finished. It must not return before that.

A component that needs what an earlier one started (the executors need the API server's
URL) names it in `uses`; it is then called with ``started=`` the handles of those of them
that run in this process. Handles go down the tree this way, never through shared state
written after a start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, cast

import anyio
from anyio.abc import TaskStatus


class ServeFunction(Protocol):
    async def __call__(
        self,
        *,
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: TaskStatus[Any],
    ) -> None: ...


class ServeUsingFunction(Protocol):
    async def __call__(
        self,
        *,
        started: Mapping[str, Any],
        shutdown_trigger: Callable[[], Awaitable[None]],
        task_status: TaskStatus[Any],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    serve: ServeFunction | ServeUsingFunction
    #: Earlier components whose started handles `serve` receives (as ``started=``).
    uses: tuple[str, ...] = ()

    def bound(self, handles: Mapping[str, Any]) -> ServeFunction:
        """`serve`, given the handles of the components it uses (of those in `handles`)."""
        if not self.uses:
            return cast(ServeFunction, self.serve)
        started = {name: handles[name] for name in self.uses if name in handles}
        using = cast(ServeUsingFunction, self.serve)
        return cast(ServeFunction, partial(using, started=started))


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
            serve = component.bound(handles)
            handles[component.name] = await tg.start(_supervise, component, serve, stop, done)
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
    serve: ServeFunction,
    stop: anyio.Event,
    done: anyio.Event,
    *,
    task_status: TaskStatus[Any],
) -> None:
    try:
        await serve(shutdown_trigger=stop.wait, task_status=task_status)
    except Exception as exc:
        raise ComponentFailed(component.name, "failed") from exc
    finally:
        done.set()
    if not stop.is_set():
        raise ComponentFailed(component.name, "stopped before shutdown was requested")
