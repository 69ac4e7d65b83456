from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup


@asynccontextmanager
async def open_service_group() -> AsyncIterator[TaskGroup]:
    """A task group for embedding services in a test; everything in it is cancelled on exit.

    Start services with `await tg.start(serve_x, ...)` so the test body runs only once they
    are ready; leaving the block cancels them and waits for their cleanup.
    """
    async with anyio.create_task_group() as tg:
        try:
            yield tg
        finally:
            tg.cancel_scope.cancel()
