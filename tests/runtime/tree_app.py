"""A small process tree for subprocess tests of the root: signals, drain, failures.

Run as `python tests/runtime/tree_app.py MODE [--backend B]`; it goes through the same
`execute()` as `airflow-sc run`, with components chosen by MODE:
- `fail`: a steady component and one that raises once everything has started;
- `stubborn`: a component that keeps working after the drain starts until cancelled.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus

from airflow_sc.config import Settings, load_settings
from airflow_sc.observability.logging import configure_logging
from airflow_sc.runtime import Component, Shutdown, serve_components
from airflow_sc.runtime.root import execute

Trigger = Callable[[], Awaitable[None]]


def say(message: str) -> None:
    print(message, flush=True)


async def steady(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
    task_status.started("steady")
    try:
        await shutdown_trigger()
        say("steady: drained")
    finally:
        say("steady: stopped")


async def failing(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
    task_status.started("failing")
    await anyio.lowlevel.checkpoint()
    explode()


def explode() -> None:
    raise RuntimeError("boom from the failing component")


async def stubborn(*, shutdown_trigger: Trigger, task_status: TaskStatus[Any]) -> None:
    task_status.started("stubborn")
    await shutdown_trigger()
    say("stubborn: draining")
    try:
        await anyio.sleep_forever()
    finally:
        say("stubborn: cancelled")


MODES = {
    "fail": [Component("steady", steady), Component("failing", failing)],
    "stubborn": [Component("steady", steady), Component("stubborn", stubborn)],
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--backend", default="asyncio")
    args = parser.parse_args()
    components = MODES[args.mode]

    async def tree(
        settings: Settings, shutdown: Shutdown, *, task_status: TaskStatus[dict[str, Any]]
    ) -> None:
        await serve_components(
            components, shutdown_trigger=shutdown.wait_drain, task_status=task_status
        )

    settings = load_settings()
    configure_logging("INFO")
    return execute(settings, backend=args.backend, tree=tree)


if __name__ == "__main__":
    sys.exit(main())
