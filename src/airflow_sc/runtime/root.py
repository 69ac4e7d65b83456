"""The root of the supervision tree: `anyio.run`, signals, exit codes, error reporting."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from functools import partial
from typing import Any, Protocol

import anyio
from anyio.abc import TaskStatus

from airflow_sc.config import Settings
from airflow_sc.runtime.errors import first_component_failure, leaf_exceptions
from airflow_sc.runtime.shutdown import Shutdown, drain_deadline
from airflow_sc.runtime.signals import serve_signals

log = logging.getLogger("airflow_sc")


class Tree(Protocol):
    """Opens the infrastructure and serves the components; reports their handles by name."""

    async def __call__(
        self, settings: Settings, shutdown: Shutdown, *, task_status: TaskStatus[dict[str, Any]]
    ) -> None: ...


def execute(
    settings: Settings,
    *,
    backend: str,
    tree: Tree,
    user_errors: tuple[type[BaseException], ...] = (),
    ready_message: str = "airflow-sc ready",
) -> int:
    """Run `tree` under the root task group until shutdown; return the process exit code.

    0 after a drain (even one cut short by its deadline), 128 + signal number when a second
    signal cut it short, 1 when something failed. `user_errors` are printed as a message,
    without a traceback (their text already says what to do). `ready_message` starts the
    line logged once every component started.
    """
    shutdown = Shutdown()
    try:
        anyio.run(
            partial(serve_process, settings, shutdown, tree, ready_message=ready_message),
            backend=backend,
        )
    except (Exception, BaseExceptionGroup) as exc:
        return report_failure(exc, user_errors)
    forced_by = shutdown.forced_by
    if forced_by is not None and forced_by in signal.Signals.__members__:
        return 128 + signal.Signals[forced_by].value
    log.info("airflow-sc stopped")
    return 0


async def serve_process(
    settings: Settings, shutdown: Shutdown, tree: Tree, *, ready_message: str = "airflow-sc ready"
) -> None:
    """The root task group: signals first, then the infrastructure and the services."""
    deadline = drain_deadline(
        shutdown_grace=settings.core.shutdown_grace,
        terminate_grace=settings.executor.terminate_grace,
        api_drain=settings.api.drain_timeout,
    )
    async with anyio.create_task_group() as root:
        await root.start(partial(serve_signals, shutdown, root.cancel_scope, grace=deadline))
        async with anyio.create_task_group() as services:
            handles = await services.start(tree, settings, shutdown)
            ready = " ".join(
                f"{name}={h.url}" if hasattr(h, "url") else name for name, h in handles.items()
            )
            log.info("%s: %s", ready_message, ready)
        root.cancel_scope.cancel()


def report_failure(exc: BaseException, user_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Print the error that started the unwinding (not a bare ExceptionGroup); return 1."""
    failure = first_component_failure(exc)
    if failure is not None:
        cause = failure.__cause__ or failure
        if isinstance(cause, user_errors):
            print(f"airflow-sc: component {failure.component!r} failed: {cause}", file=sys.stderr)
            return 1
        print(f"airflow-sc: component {failure.component!r} failed:", file=sys.stderr)
        traceback.print_exception(cause, file=sys.stderr)
        return 1
    leaves = leaf_exceptions(exc)
    # Cancellation exceptions of both backends are BaseExceptions, never Exceptions.
    first = next((e for e in leaves if isinstance(e, Exception)), leaves[0])
    if isinstance(first, user_errors):
        print(f"airflow-sc: {first}", file=sys.stderr)
    else:
        traceback.print_exception(first, file=sys.stderr)
    return 1
