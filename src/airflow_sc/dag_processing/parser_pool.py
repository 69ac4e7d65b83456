"""A bounded pool of zygote processes, driven from async code.

`open_parser_pool(size)` starts `size` zygotes (see `zygote.py`) inside the caller's task
group; `await pool.parse(path)` sends a file to an idle one and returns its answer. A
zygote that dies is replaced and the file it was parsing is reported as an import error.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

log = logging.getLogger(__name__)

MAX_ANSWER = 512 * 1024 * 1024
ZYGOTE_ARGV = [sys.executable, "-m", "airflow_sc.dag_processing.zygote"]


@dataclass(frozen=True, slots=True)
class ParseError:
    filename: str
    stacktrace: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one file produced: serialized DAGs (JSON-ready dicts) and import errors."""

    path: str
    dags: list[dict[str, Any]]
    errors: list[ParseError]
    duration: float
    #: Parse-time warnings ("file:line: message"), e.g. Airflow arguments with no effect.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> ParseResult:
        return cls(
            path=answer["path"],
            dags=list(answer.get("dags", [])),
            errors=[ParseError(e["filename"], e["stacktrace"]) for e in answer.get("errors", [])],
            duration=float(answer.get("duration", 0.0)),
            warnings=[str(w) for w in answer.get("warnings", [])],
        )


class _Zygote:
    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        self.reader = BufferedByteReceiveStream(process.stdout)

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(request).encode() + b"\n")
        line = await self.reader.receive_until(b"\n", MAX_ANSWER)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def aclose(self) -> None:
        with anyio.move_on_after(2, shield=True):
            if self.process.stdin is not None:
                await self.process.stdin.aclose()
            await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            with anyio.CancelScope(shield=True):
                await self.process.wait()


@dataclass
class ParserPool:
    size: int
    file_timeout: float
    max_memory: int
    _idle: list[_Zygote] = field(default_factory=list)
    _slots: anyio.Semaphore = field(init=False)
    _all: set[_Zygote] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._slots = anyio.Semaphore(self.size)

    async def parse(self, path: str, dags_folder: str | None = None) -> ParseResult:
        """Parse one file in an isolated child; import failures come back as `errors`."""
        return ParseResult.from_answer(await self._ask(path, dags_folder, {}))

    async def run_callbacks(
        self, path: str, dags_folder: str | None, callback: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a DAG callback request in an isolated child (`callbacks_child`).

        Returns the child's answer: a parse answer whose ``errors`` say what failed, with
        ``logged`` set when the child wrote the details to the callback log itself.
        """
        return await self._ask(path, dags_folder, {"callback": callback})

    async def _ask(
        self, path: str, dags_folder: str | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        async with self._slots:
            zygote = self._idle.pop() if self._idle else await self._spawn()
            request = {
                "path": path,
                "dags_folder": dags_folder,
                "timeout": self.file_timeout,
                "max_memory": self.max_memory,
                **extra,
            }
            try:
                # The zygote enforces the per-file timeout; this bound only catches a zygote
                # that stopped answering altogether.
                with anyio.fail_after(self.file_timeout + 30):
                    answer = await zygote.ask(request)
            except BaseException as exc:
                await self._discard(zygote)
                if isinstance(exc, (anyio.EndOfStream, anyio.BrokenResourceError, TimeoutError)):
                    log.warning("DAG parser process died while parsing %s; replacing it", path)
                    error = {
                        "filename": path,
                        "stacktrace": f"the parser process died parsing {path}",
                    }
                    return {"path": path, "dags": [], "errors": [error], "duration": 0.0}
                raise
            self._idle.append(zygote)
            return answer

    async def _spawn(self) -> _Zygote:
        process = await anyio.open_process(
            ZYGOTE_ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
        )
        zygote = _Zygote(process)
        self._all.add(zygote)
        return zygote

    async def _discard(self, zygote: _Zygote) -> None:
        self._all.discard(zygote)
        await zygote.aclose()

    async def aclose(self) -> None:
        for zygote in list(self._all):
            await self._discard(zygote)
        self._idle.clear()


@asynccontextmanager
async def open_parser_pool(
    size: int, *, file_timeout: float, max_memory: int
) -> AsyncIterator[ParserPool]:
    """Up to `size` zygotes, started on demand and stopped on exit.

    `file_timeout` bounds the import of one file (Airflow's `dagbag_import_timeout`);
    `max_memory` caps a child's address space in bytes (0: no cap).
    """
    pool = ParserPool(size=size, file_timeout=file_timeout, max_memory=max_memory)
    try:
        yield pool
    finally:
        with anyio.CancelScope(shield=True):
            await pool.aclose()
