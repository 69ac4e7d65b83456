"""`LocalExecutor`: sync tasks in isolated processes forked from warm workers.

`parallelism` worker processes (``_worker.py``) run inside the executor's task group, one
try at a time each. A worker forks a fresh child per try (own session, own log file), so
nothing a task does reaches the scheduler or another task; a worker that dies is replaced
and its try is reported FAILED.

Events: RUNNING when the child is forked, then the state the child reported on its result
pipe. The child records that state through the execution API itself (durably, with its
history row and branch skips) before reporting; the pipe only tells the scheduler now,
without a database round trip. A child that dies without reporting (exit code, signal,
execution_timeout, terminate) is reported FAILED with the reason, and the scheduler writes
that state.

Shutdown (cancellation of `serve`): running tries get `shutdown_grace` seconds to finish,
then are terminated (SIGTERM, `terminate_grace`, SIGKILL of the whole group) and reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.executors._events import event_for_report
from airflow_sc.executors.base import Executor, TaskEvent, Workload
from airflow_sc.task_runner.supervisor import TaskRequest, TryReport

__all__ = ["LocalExecutor", "LocalExecutorStatistics", "worker_environment"]

log = logging.getLogger(__name__)

WORKER_ARGV = [sys.executable, "-m", "airflow_sc.executors._worker"]
_MAX_LINE = 64 * 1024 * 1024
_TI = TaskInstanceState


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: Settings variables (database URL, signing secrets) stay out of task processes: they
#: reach everything through the execution API with their try's token.
_PRIVATE_ENV_PREFIX = "AIRFLOW_SC__"


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of worker processes: `environ` without airflow-sc's settings."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(_PRIVATE_ENV_PREFIX)}


class _WorkerDied(Exception):
    pass


class _Worker:
    """One warm worker process and its protocol."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        assert process.stdin is not None
        self._reader = BufferedByteReceiveStream(process.stdout)
        self._write_lock = anyio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        async with self._write_lock:
            try:
                await self.process.stdin.send(json.dumps(message).encode() + b"\n")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise _WorkerDied("the worker's stdin is closed") from exc

    async def receive(self) -> dict[str, Any]:
        try:
            line = await self._reader.receive_until(b"\n", _MAX_LINE)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
            raise _WorkerDied("the worker process exited") from exc
        message: dict[str, Any] = json.loads(line)
        return message

    async def aclose(self) -> None:
        """Close stdin (the worker kills its child's group and exits), then reap it."""
        with anyio.move_on_after(5, shield=True):
            if self.process.stdin is not None:
                await self.process.stdin.aclose()
            await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            with anyio.CancelScope(shield=True):
                await self.process.wait()


@dataclass
class _Running:
    workload: Workload
    worker: _Worker
    terminating: bool = False
    #: The forked child's pid (= its process group), once started.
    child: int | None = None


@dataclass(frozen=True, slots=True)
class LocalExecutorStatistics:
    #: Pids of the live worker processes.
    workers: tuple[int, ...]
    running: int
    pending: int


class LocalExecutor(Executor):
    """Runs sync tasks in isolated forks of `parallelism` warm worker processes.

    `api_url` is the execution API's base URL (``.../execution``); `issue_token(ti_id)`
    signs each try's token (``ExecutionTokens.issue`` of the API's signing key). Logs go
    under `base_log_folder`.
    """

    name = "local"

    def __init__(
        self,
        *,
        parallelism: int,
        api_url: str,
        issue_token: Callable[[str], str],
        base_log_folder: Path,
        heartbeat_interval: float = 5.0,
        terminate_grace: float = 10.0,
        shutdown_grace: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        name: str = "local",
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.name = name
        self.parallelism = parallelism
        self.api_url = api_url
        self.issue_token = issue_token
        self.base_log_folder = base_log_folder
        self.heartbeat_interval = heartbeat_interval
        self.terminate_grace = terminate_grace
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self._queue: MemoryObjectSendStream[Workload] | None = None
        self._pending = 0
        self._cancelled: set[str] = set()
        #: Submitted tries no slot has taken yet, by try id.
        self._waiting: dict[str, Workload] = {}
        self._events: MemoryObjectSendStream[TaskEvent] | None = None
        self._running: dict[str, _Running] = {}
        self._workers: set[_Worker] = set()

    # -- the port ------------------------------------------------------------------------

    async def serve(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        send, receive = anyio.create_memory_object_stream[Workload](math.inf)
        ready = _Countdown(self.parallelism)
        try:
            async with events, send, receive, anyio.create_task_group() as tg:
                for _ in range(self.parallelism):
                    tg.start_soon(self._serve_slot, receive, events, ready.count_down)
                await ready.wait()
                self._queue = send
                self._events = events
                task_status.started()
        finally:
            self._queue = None
            self._events = None

    async def submit(self, workloads: Sequence[Workload]) -> None:
        if self._queue is None:
            raise RuntimeError(f"executor {self.name!r} is not serving")
        for workload in workloads:
            self._pending += 1
            self._waiting[workload.ti_id] = workload
            self._queue.send_nowait(workload)

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        running = self._running.get(ti_id)
        if running is not None:
            running.terminating = True
            message = {"op": "terminate", "ti_id": ti_id, "reason": reason}
            with contextlib.suppress(_WorkerDied):  # if so, its slot reports the try failed
                await running.worker.send({**message, "grace": self.terminate_grace})
            return
        waiting = self._waiting.pop(ti_id, None)
        if waiting is not None and self._events is not None:
            # Never started: its slot will skip it. Say so now, not when a slot frees up.
            self._cancelled.add(ti_id)
            await self._events.send(
                TaskEvent(ti_id, waiting.key, _TI.FAILED, self.clock(), info=reason)
            )

    def open_slots(self) -> int:
        return max(0, self.parallelism - len(self._running) - self._pending)

    def statistics(self) -> LocalExecutorStatistics:
        return LocalExecutorStatistics(
            workers=tuple(sorted(w.process.pid for w in self._workers)),
            running=len(self._running),
            pending=self._pending,
        )

    # -- one worker slot -------------------------------------------------------------------

    async def _serve_slot(
        self,
        queue: MemoryObjectReceiveStream[Workload],
        events: MemoryObjectSendStream[TaskEvent],
        ready: Callable[[], None],
    ) -> None:
        while True:
            worker = await self._spawn()
            self._workers.add(worker)
            try:
                await worker.receive()  # "ready": the imports are warm
                ready()
                async for workload in queue:
                    self._pending -= 1
                    self._waiting.pop(workload.ti_id, None)
                    if workload.ti_id in self._cancelled:  # terminated while waiting
                        self._cancelled.discard(workload.ti_id)
                        continue
                    await self._run(worker, workload, events)
                return
            except _WorkerDied:
                log.warning("A local executor worker process died; starting another")
            finally:
                self._workers.discard(worker)
                await worker.aclose()

    async def _spawn(self) -> _Worker:
        process = await anyio.open_process(
            WORKER_ARGV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env=worker_environment(os.environ),
        )
        return _Worker(process)

    async def _run(
        self, worker: _Worker, workload: Workload, events: MemoryObjectSendStream[TaskEvent]
    ) -> None:
        request = TaskRequest(
            ti_id=workload.ti_id,
            dag_id=workload.key.dag_id,
            run_id=workload.key.run_id,
            task_id=workload.key.task_id,
            map_index=workload.key.map_index,
            try_number=workload.key.try_number,
            api_url=self.api_url,
            token=self.issue_token(workload.ti_id),
            base_log_folder=str(self.base_log_folder),
            heartbeat_interval=self.heartbeat_interval,
        )
        running = self._running[workload.ti_id] = _Running(workload, worker)
        try:
            await worker.send(
                {
                    "op": "run",
                    "request": request.to_json(),
                    "timeout": workload.execution_timeout,
                    "grace": self.terminate_grace,
                }
            )
            finished: dict[str, Any] | None = await self._follow(running, events)
        except _WorkerDied:
            if running.child is not None:
                # The child died with its worker (PDEATHSIG); its grandchildren did not.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(running.child, signal.SIGKILL)
            event = TaskEvent(
                workload.ti_id,
                workload.key,
                _TI.FAILED,
                self.clock(),
                info="the worker process running the task died",
            )
            await events.send(event)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                finished = await self._drain(worker, workload)
                with anyio.move_on_after(1):
                    await self._report(events, workload, finished)
            raise
        finally:
            self._running.pop(workload.ti_id, None)
        await self._report(events, workload, finished)

    async def _follow(
        self, running: _Running, events: MemoryObjectSendStream[TaskEvent]
    ) -> dict[str, Any]:
        workload = running.workload
        while True:
            message = await running.worker.receive()
            if message.get("event") == "started":
                running.child = int(message["pid"])
                await events.send(
                    TaskEvent(workload.ti_id, workload.key, _TI.RUNNING, self.clock())
                )
            elif message.get("event") == "finished":
                return message

    async def _drain(self, worker: _Worker, workload: Workload) -> dict[str, Any] | None:
        """On shutdown: the grace to finish, then terminate; the worker's last answer."""
        try:
            with anyio.move_on_after(self.shutdown_grace):
                return await self._until_finished(worker)
            await worker.send(
                {
                    "op": "terminate",
                    "ti_id": workload.ti_id,
                    "reason": "the executor shut down before the task finished",
                    "grace": self.terminate_grace,
                }
            )
            with anyio.move_on_after(self.terminate_grace + 5):
                return await self._until_finished(worker)
        except _WorkerDied:
            pass
        return None

    async def _until_finished(self, worker: _Worker) -> dict[str, Any]:
        while True:
            message = await worker.receive()
            if message.get("event") == "finished":
                return message

    async def _report(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        workload: Workload,
        finished: dict[str, Any] | None,
    ) -> None:
        if finished is None:
            event: TaskEvent | None = TaskEvent(
                workload.ti_id,
                workload.key,
                _TI.FAILED,
                self.clock(),
                info="the task did not stop when the executor shut down",
            )
        else:
            raw = finished.get("report")
            event = event_for_report(
                workload,
                TryReport.from_json(raw) if raw is not None else None,
                exit=str(finished.get("exit")),
                reason=finished.get("reason"),
                at=self.clock(),
            )
        if event is not None:
            await events.send(event)


class _Countdown:
    def __init__(self, count: int) -> None:
        self._count = count
        self._done = anyio.Event()

    def count_down(self) -> None:
        self._count -= 1
        if self._count <= 0:
            self._done.set()

    async def wait(self) -> None:
        await self._done.wait()
