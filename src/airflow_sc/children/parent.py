"""A zygote process from its parent's side, in async code (asyncio or trio).

`start_zygote(program)` starts ``python -m airflow_sc.children.zygote program``;
`Zygote.send` and `Zygote.receive` speak the typed messages of `messages.py`. A zygote
that dies shows as `ZygoteDied` on the next send or receive. `aclose()` closes its stdin
(the zygote kills its running child's group and exits) and reaps it, killing it if it does
not exit in time; it is idempotent and shielded.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import cast

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from airflow_sc.children.messages import FromZygote, ToZygote, decode, encode

__all__ = ["Zygote", "ZygoteDied", "open_zygote", "start_zygote"]

#: The longest message accepted from a zygote (a parse result with its DAGs).
MAX_MESSAGE = 512 * 1024 * 1024
#: Seconds a closing zygote gets to exit before it is killed.
CLOSE_GRACE = 5.0


class ZygoteDied(Exception):
    """The zygote process exited (or closed its side of the protocol)."""


class Zygote:
    """One warm zygote process and its protocol."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._reader = BufferedByteReceiveStream(process.stdout)
        self._write_lock = anyio.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: ToZygote) -> None:
        assert self.process.stdin is not None
        async with self._write_lock:
            try:
                await self.process.stdin.send(encode(message))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise ZygoteDied("the zygote's stdin is closed") from exc

    async def receive(self) -> FromZygote:
        try:
            line = await self._reader.receive_until(b"\n", MAX_MESSAGE)
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ) as exc:
            raise ZygoteDied("the zygote process exited") from exc
        return cast(FromZygote, decode(line))  # a zygote sends nothing else

    async def aclose(self) -> None:
        """Close stdin (the zygote kills its child's group and exits), then reap it."""
        with anyio.move_on_after(CLOSE_GRACE, shield=True):
            if self.process.stdin is not None:
                await self.process.stdin.aclose()
            await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            with anyio.CancelScope(shield=True):
                await self.process.wait()


async def start_zygote(program: str, *args: str, env: Mapping[str, str] | None = None) -> Zygote:
    """Start a zygote running `program` (``module:attribute``, see `zygote.py`).

    Its first message is `Ready`, once it is warm.
    """
    process = await anyio.open_process(
        [sys.executable, "-m", "airflow_sc.children.zygote", program, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        env=env,
    )
    return Zygote(process)


@asynccontextmanager
async def open_zygote(
    program: str, *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[Zygote]:
    """A zygote for the block's duration (`start_zygote`, then `aclose`)."""
    zygote = await start_zygote(program, *args, env=env)
    try:
        yield zygote
    finally:
        await zygote.aclose()
