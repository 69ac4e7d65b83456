"""SIGTERM/SIGINT handling: the one place where signals become shutdown phases."""

from __future__ import annotations

import logging
import signal

import anyio
from anyio import CancelScope
from anyio.abc import TaskStatus

from airflow_sc.runtime.shutdown import Shutdown

log = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve_signals(
    shutdown: Shutdown,
    root_scope: CancelScope,
    *,
    grace: float,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """First signal: graceful drain with `grace` seconds. Second signal or deadline: cancel now."""
    with anyio.open_signal_receiver(*SHUTDOWN_SIGNALS) as signals:
        task_status.started()
        async with anyio.create_task_group() as tg:
            async for signum in signals:
                name = signal.Signals(signum).name
                if not shutdown.draining:
                    log.info(
                        "%s received: draining (up to %.1fs); send it again to stop now",
                        name,
                        grace,
                    )
                    shutdown.request_drain(name, grace=grace)
                    tg.start_soon(_cancel_at_deadline, shutdown, root_scope)
                else:
                    log.warning("%s received again: stopping now", name)
                    shutdown.forced_by = name
                    root_scope.cancel()
                    return


async def _cancel_at_deadline(shutdown: Shutdown, root_scope: CancelScope) -> None:
    await anyio.sleep_until(shutdown.deadline)
    log.warning("drain did not finish within the shutdown grace period: cancelling what is left")
    shutdown.forced_by = "deadline"
    root_scope.cancel()
