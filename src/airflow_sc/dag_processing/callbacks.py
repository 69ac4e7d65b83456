"""DAG callbacks (``on_success_callback`` / ``on_failure_callback``), run by the DAG processor.

The scheduler never runs user code: when a run of a DAG with a DAG-level callback
finishes, it writes a `callback_request` row (`db/queries/callbacks.py`). Every DAG
processor runs `serve_dag_callbacks`, which claims pending requests (each is claimed by
exactly one processor) and runs each in an isolated child forked by the parser pool's
zygotes, as a parse would be: the child imports the DAG file, finds the DAG and calls its
callbacks with the run's context (`callbacks_child.py`). A callback that raises, hangs
(killed after `dag_processor.file_parse_timeout` seconds), exits or crashes is logged and
affects nothing else.

Everything a callback run prints or logs goes to
``<base_log_folder>/dag_id=<dag_id>/run_id=<run_id>/dag_callbacks.log``, next to the
run's task logs (appended to when the run finishes again after a clear).

Woken when a request is written: on PostgreSQL by LISTEN/NOTIFY on `CALLBACK_CHANNEL`
(with a slow sweep as a safety net), on SQLite by a one-second sweep (a cheap read).

A request runs at most once, as in Airflow. On shutdown the processor claims nothing more
and lets running callbacks finish (`DagCallbacks.drain`); a callback still running when the
processor is cancelled is killed and not run again (its log says so), a request claimed but
not yet started is given back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import anyio
from anyio.abc import TaskGroup, TaskStatus

from airflow_sc.dag_processing.parser_pool import ParserPool
from airflow_sc.db import Database, Transaction
from airflow_sc.db.notify import Listener, NotesMissed, open_listener
from airflow_sc.db.queries import callbacks as queries
from airflow_sc.db.queries.callbacks import CALLBACK_CHANNEL, ClaimedCallback

__all__ = [
    "CALLBACK_LOG_NAME",
    "CallbackOutcome",
    "CallbackStatistics",
    "DagCallbacks",
    "callback_log_path",
    "child_request",
    "serve_dag_callbacks",
]

log = logging.getLogger(__name__)

CALLBACK_LOG_NAME: Final = "dag_callbacks.log"
#: Seconds between safety-net sweeps on SQLite (nothing else wakes a processor there).
SQLITE_SWEEP: Final = 1.0
#: Seconds between safety-net sweeps on PostgreSQL (notifications wake it at once).
POSTGRES_SWEEP: Final = 15.0
#: Seconds giving an interrupted request back may take during shutdown.
RETURN_GRACE: Final = 5.0


def callback_log_path(base_log_folder: Path, *, dag_id: str, run_id: str) -> Path:
    """Where the callbacks of one run write their output (next to its task logs)."""
    return (
        base_log_folder / f"dag_id={_part(dag_id)}" / f"run_id={_part(run_id)}" / CALLBACK_LOG_NAME
    )


def _part(value: str) -> str:
    # As for task logs: a run id may hold ':' or '+', never a path separator.
    return value.replace(os.sep, "_").replace("\x00", "_")


def callback_kind(claimed: ClaimedCallback) -> str:
    """The DAG attribute to call: ``on_failure_callback`` or ``on_success_callback``."""
    failed = claimed.callback_type == "dag_failure" or bool(claimed.data.get("is_failure_callback"))
    return "on_failure_callback" if failed else "on_success_callback"


def child_request(claimed: ClaimedCallback, log_path: Path) -> dict[str, Any]:
    """What the child needs (JSON): which callbacks, why, the run's facts, the log file."""
    run: dict[str, Any] | None = None
    if claimed.run is not None:
        facts = claimed.run
        run = {
            "state": facts.state,
            "run_type": facts.run_type,
            "conf": facts.conf,
            **{
                name: _iso(getattr(facts, name))
                for name in (
                    "run_after",
                    "logical_date",
                    "data_interval_start",
                    "data_interval_end",
                    "start_date",
                    "end_date",
                )
            },
        }
    kind = callback_kind(claimed)
    return {
        "dag_id": claimed.dag_id,
        "run_id": claimed.run_id,
        "kind": kind,
        "reason": claimed.data.get("msg"),
        # The run's state when its row is gone (deleted since it finished).
        "state": "failed" if kind == "on_failure_callback" else "success",
        "log_path": str(log_path),
        "run": run,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """How one request went: `errors` is empty when every callback returned."""

    dag_id: str
    run_id: str
    kind: str
    log_path: Path
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class CallbackStatistics:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Requests given back because shutdown interrupted them.
    returned: int = 0


class _Wakeup:
    """A coalescing signal: any number of `set()` calls while busy cost one more pass."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._event.wait()
        if self._event.is_set():
            self._event = anyio.Event()


@dataclass
class DagCallbacks:
    """Claims callback requests and runs them in the parser pool's children."""

    db: Database
    pool: ParserPool
    base_log_folder: Path
    #: The DAG folder a file belongs to (put on `sys.path` in the child), if any.
    folder_of: Callable[[str], str | None] = lambda _path: None
    #: Requests run at once (each holds one of the pool's zygotes while it runs).
    concurrency: int = 1
    statistics: CallbackStatistics = field(default_factory=CallbackStatistics)
    _wakeup: _Wakeup = field(default_factory=_Wakeup, init=False)
    _running: int = field(default=0, init=False)
    _settled: anyio.Event = field(default_factory=anyio.Event, init=False)
    _stopping: bool = field(default=False, init=False)

    def wake(self) -> None:
        """Look for requests now (a request was written)."""
        self._wakeup.set()

    async def drain(self) -> None:
        """Claim nothing more; return once the requests already claimed have run.

        Each runs for at most the pool's file timeout (its child is killed then).
        """
        self._stopping = True
        while self._running:
            self._settled = anyio.Event()
            await self._settled.wait()

    async def claim(self, limit: int) -> list[ClaimedCallback]:
        """Take up to `limit` pending requests for this processor (none taken twice)."""
        if limit < 1 or not await self.db.run(queries.has_callbacks, write=False):
            return []

        async def body(tx: Transaction) -> list[ClaimedCallback]:
            return await queries.claim_callbacks(tx, limit=limit)

        # Shielded: a claim that committed must reach `run`, which gives the request back
        # if it is cancelled before starting it; a claim cut short rolls back.
        claimed: list[ClaimedCallback] = []
        with anyio.move_on_after(RETURN_GRACE, shield=True):
            claimed = await self.db.run(body)
        self.statistics.claimed += len(claimed)
        return claimed

    async def run_pending(self) -> list[CallbackOutcome]:
        """Claim up to `concurrency` requests and run them; return once all have run."""
        outcomes: list[CallbackOutcome] = []

        async def one(claimed: ClaimedCallback) -> None:
            outcomes.append(await self.run(claimed))

        async with anyio.create_task_group() as tg:
            for claimed in await self.claim(self.concurrency):
                tg.start_soon(one, claimed)
        return outcomes

    async def run(self, claimed: ClaimedCallback) -> CallbackOutcome:
        """Run one claimed request in a child, at most once.

        Cancelled before its child started, the request is given back for a later claim;
        cancelled while its child runs, the child is killed and the log says so.
        """
        kind = callback_kind(claimed)
        log_path = callback_log_path(
            self.base_log_folder, dag_id=claimed.dag_id, run_id=claimed.run_id
        )
        handed_over = False
        try:
            path = claimed.fileloc
            if not path or not await anyio.Path(path).is_file():
                errors = [f"DAG {claimed.dag_id}'s file {path} is gone: {kind} not run"]
                await _append(log_path, errors[0])
            else:
                handed_over = True
                errors = await self._run_in_child(claimed, path, log_path)
        except anyio.get_cancelled_exc_class():
            with anyio.move_on_after(RETURN_GRACE, shield=True):
                if handed_over:
                    await _append(log_path, f"{kind} interrupted by shutdown; not run again")
                else:
                    await self.db.run(lambda tx: queries.return_callbacks(tx, [claimed]))
                    self.statistics.returned += 1
            raise
        outcome = CallbackOutcome(claimed.dag_id, claimed.run_id, kind, log_path, errors)
        if outcome.ok:
            self.statistics.succeeded += 1
            log.info("ran %s of DAG %s for run %s", kind, claimed.dag_id, claimed.run_id)
        else:
            self.statistics.failed += 1
            log.warning(
                "%s of DAG %s for run %s failed (log: %s):\n%s",
                kind,
                claimed.dag_id,
                claimed.run_id,
                log_path,
                "\n".join(errors),
            )
        return outcome

    async def _run_in_child(self, claimed: ClaimedCallback, path: str, log_path: Path) -> list[str]:
        request = child_request(claimed, log_path)
        answer = await self.pool.run_callbacks(path, self.folder_of(path), request)
        errors = [str(e.get("stacktrace", "")) for e in answer.get("errors", [])]
        if errors and not answer.get("logged"):
            # The child died or was killed before it could say so itself.
            await _append(log_path, "\n".join(errors))
        return errors

    async def serve(self, tg: TaskGroup, *, sweep_interval: float) -> None:
        """Claim and start requests whenever woken or swept, up to `concurrency` at once."""
        while True:
            if not self._stopping:
                for claimed in await self.claim(self.concurrency - self._running):
                    self._running += 1
                    tg.start_soon(self._run_slot, claimed)
            await self._wakeup.wait(sweep_interval)

    async def _run_slot(self, claimed: ClaimedCallback) -> None:
        try:
            await self.run(claimed)
        finally:
            self._running -= 1
            self._settled.set()
            self.wake()  # a slot is free: more requests may be waiting


async def _append(path: Path, text: str) -> None:
    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"[{datetime.now().astimezone().isoformat()}] ERROR - {text}\n")

    await anyio.to_thread.run_sync(write)


async def serve_dag_callbacks(
    callbacks: DagCallbacks,
    *,
    sweep_interval: float | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run callback requests until cancelled; ready once notifications are listened to.

    `sweep_interval` defaults to `POSTGRES_SWEEP` on PostgreSQL (woken by notifications)
    and `SQLITE_SWEEP` on SQLite. For a graceful stop call `callbacks.drain()` first, then
    cancel (see `DagCallbacks.run` for what cancellation does to a running request).
    """
    db = callbacks.db
    if sweep_interval is None:
        sweep_interval = POSTGRES_SWEEP if db.dialect == "postgresql" else SQLITE_SWEEP
    async with open_listener(db, [CALLBACK_CHANNEL]) as listener, anyio.create_task_group() as tg:
        tg.start_soon(_forward_notes, listener, callbacks.wake)
        task_status.started()
        await callbacks.serve(tg, sweep_interval=sweep_interval)


async def _forward_notes(listener: Listener, wake: Callable[[], None]) -> None:
    async for note in listener:
        if isinstance(note, NotesMissed):
            log.debug("callback notifications may have been missed: sweeping")
        wake()
