"""A bounded pool of DAG parsing zygotes, driven from async code.

`open_parser_pool(size)` starts up to `size` zygotes (`children`, running
`parse_program.py`) on demand; `await pool.parse(path)` sends a file to an idle one, which
imports it in a forked child, and returns its answer. A zygote that dies is replaced and
the file it was parsing is reported as an import error.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from airflow_sc.children import ChildExit, Ending, Exited, Fork, Ready
from airflow_sc.children.parent import Zygote, ZygoteDied, start_zygote
from airflow_sc.config.loading import without_settings
from airflow_sc.impersonation import Impersonation

log = logging.getLogger(__name__)

#: The program the zygotes run.
PROGRAM = "airflow_sc.dag_processing.parse_program:PROGRAM"
#: Bytes of serialized result accepted from one file.
RESULT_LIMIT = 256 * 1024 * 1024


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


@dataclass
class ParserPool:
    size: int
    file_timeout: float
    max_memory: int
    #: Which OS user a parse (and a DAG callback) runs as (`airflow_sc.impersonation`:
    #: ``core.default_impersonation``, else ``core.root_impersonation`` under root); None:
    #: the pool's own user.
    impersonation: Impersonation | None = None
    _idle: list[Zygote] = field(default_factory=list)
    _slots: anyio.Semaphore = field(init=False)
    _all: set[Zygote] = field(default_factory=set)
    _jobs: itertools.count[int] = field(default_factory=itertools.count)

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
            zygote = self._idle.pop() if self._idle else None
            fork = Fork(
                job=str(next(self._jobs)),
                payload={
                    "path": path,
                    "dags_folder": dags_folder,
                    "impersonation": None
                    if self.impersonation is None
                    else self.impersonation.to_json(),
                    **extra,
                },
                timeout=self.file_timeout,
                grace=0.0,  # a file that overruns is killed at once
                max_memory=self.max_memory,
                quiet=True,
                result_limit=RESULT_LIMIT,
            )
            try:
                # The zygote enforces the per-file timeout; this bound only catches a zygote
                # that stopped answering altogether.
                with anyio.fail_after(self.file_timeout + 30):
                    if zygote is None:
                        zygote = await self._spawn()
                    exited = await _run(zygote, fork)
            except BaseException as exc:
                if zygote is not None:
                    await self._discard(zygote)
                if isinstance(exc, (ZygoteDied, TimeoutError)):
                    log.warning("DAG parser process died while parsing %s; replacing it", path)
                    error = {
                        "filename": path,
                        "stacktrace": f"the parser process died parsing {path}",
                    }
                    return {"path": path, "dags": [], "errors": [error], "duration": 0.0}
                raise
            self._idle.append(zygote)
            return _answer(path, "callback" in extra, fork, exited)

    async def _spawn(self) -> Zygote:
        zygote = await start_zygote(PROGRAM, env=without_settings(os.environ))
        self._all.add(zygote)
        if not isinstance(await zygote.receive(), Ready):
            raise ZygoteDied("the parser process did not start")
        return zygote

    async def _discard(self, zygote: Zygote) -> None:
        self._all.discard(zygote)
        await zygote.aclose()

    async def aclose(self) -> None:
        for zygote in list(self._all):
            await self._discard(zygote)
        self._idle.clear()


async def _run(zygote: Zygote, fork: Fork) -> Exited:
    await zygote.send(fork)
    while not isinstance(message := await zygote.receive(), Exited):
        pass  # Forked: the child runs
    return message


def _answer(path: str, callback: bool, fork: Fork, exited: Exited) -> dict[str, Any]:
    """The parse answer for the end of `fork`'s child."""
    end = exited.exit
    if end.ending is Ending.TIMED_OUT:
        doing = "running DAG callbacks from" if callback else "importing"
        return _failure(path, f"timed out after {fork.timeout:g}s {doing} {path}", end)
    if isinstance(exited.result, dict):
        answer: dict[str, Any] = exited.result
        answer["duration"] = end.duration
        return answer
    what = "running DAG callbacks from" if callback else "parsing"
    if exited.oversized:
        how = f"produced a result larger than {fork.result_limit} bytes"
    elif end.ending is Ending.OUT_OF_MEMORY:
        how = f"ran out of memory (limit {fork.max_memory} bytes)"
    elif end.signal is not None:
        how = f"was killed by signal {end.signal_name}"
    else:
        how = f"exited with code {end.code} before returning a result (os._exit?)"
    return _failure(path, f"{what} {path} {how}", end)


def _failure(path: str, message: str, end: ChildExit) -> dict[str, Any]:
    return {
        "path": path,
        "dags": [],
        "errors": [{"filename": path, "stacktrace": message}],
        "duration": end.duration,
    }


@asynccontextmanager
async def open_parser_pool(
    size: int,
    *,
    file_timeout: float,
    max_memory: int,
    impersonation: Impersonation | None = None,
) -> AsyncIterator[ParserPool]:
    """Up to `size` zygotes, started on demand and stopped on exit.

    `file_timeout` bounds the import of one file (Airflow's `dagbag_import_timeout`);
    `max_memory` caps a child's address space in bytes (0: no cap). With `impersonation`,
    each child becomes the deployment's task user before it imports the file.
    """
    pool = ParserPool(
        size=size, file_timeout=file_timeout, max_memory=max_memory, impersonation=impersonation
    )
    try:
        yield pool
    finally:
        with anyio.CancelScope(shield=True):
            await pool.aclose()
