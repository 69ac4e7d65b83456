"""`LocalExecutor`: sync tasks in isolated processes forked from warm workers.

`parallelism` worker processes run inside the executor's task group, one try at a time
each. A worker is a zygote (`children`) running ``_worker.py``'s program: it forks
a fresh child per try (own session, own log file), so nothing a task does reaches the
scheduler or another task; a worker that dies is replaced and its try is reported as
ended without recording its state.

Events: one per try, when its child ended. The child moves its own try through the
execution service (started, then how it ended, with its history row and branch skips)
before it exits; the event only tells the scheduler that the slot is free, and whether
the child's finish was recorded. A child that dies without recording one (exit code,
signal, execution_timeout, terminate) is reported with the reason, and the scheduler ends
the try (up_for_retry or failed).

How the child reaches the execution service (`channel`): ``"pipe"`` (the default of
``executor.local_channel``) relays its calls through its worker to this executor, which
answers them with the same `ExecutionDispatcher` as the HTTP routes (token checks,
arguments, service; ``_channel_server.py``), the service batching the starts and finishes
of tries arriving together into one transaction each; ``"http"`` makes the child call the
API server at `api_url`, like a remote worker would.

Which worker runs a try: a free worker prefers, among the next waiting tries, one whose
DAG file it imported already (workers import a try's DAG file before forking it), so a
burst of tries from a few files costs a few imports, not one per try and worker.

Tasks run as OS users (`airflow_sc.impersonation`): a try's child switches to its user
(``run_as_user``, ``core.default_impersonation``, or ``core.root_impersonation`` under
root) after importing its DAG file and before running task code; `serve` creates the
root user at start-up when it is missing.

Shutdown (cancellation of `serve`): running tries get `shutdown_grace` seconds to finish,
then are terminated (SIGTERM, `terminate_grace`, SIGKILL of the whole group) and reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.children import Call, Exited, Fork, Forked, FromZygote, Ready, Reply, Stop
from airflow_sc.children.parent import Zygote, ZygoteDied, start_zygote
from airflow_sc.config.loading import without_settings
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.port import TryService
from airflow_sc.execution.protocol import DEFAULT_MAX_DEPTH
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.executors._events import event_for_end, report_event
from airflow_sc.executors._worker import note_in_log
from airflow_sc.executors.base import Executor, TaskEvent, Workload
from airflow_sc.impersonation import Impersonation, task_user
from airflow_sc.impersonation.accounts import ensure_root_user
from airflow_sc.impersonation.log_files import make_log_file_for, open_log_folder_to
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.task_runner.supervisor import TaskRequest, TryReport

if TYPE_CHECKING:
    from airflow_sc.executors._channel_server import ChannelServer

__all__ = ["LocalChannel", "LocalExecutor", "LocalExecutorStatistics", "worker_environment"]

#: How task processes reach the execution API: relayed by their worker, or over HTTP.
LocalChannel = Literal["pipe", "http"]

log = logging.getLogger(__name__)

#: The program the workers run (`children`), given the channel as its argument.
WORKER_PROGRAM = "airflow_sc.executors._worker:PROGRAM"
#: Bytes of a child's report accepted (a larger one is dropped: nothing reported).
_REPORT_LIMIT = 16 * 1024 * 1024
_TI = TaskInstanceState
#: How many of the oldest waiting tries a free worker looks through for one whose DAG
#: file it already imported (per worker slot).
_AFFINITY_WINDOW = 4


def _utcnow() -> datetime:
    return datetime.now(UTC)


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of worker processes: `environ` without airflow-sc's settings (task
    processes reach everything through the execution API with their try's token)."""
    return without_settings(environ)


class _Worker:
    """One warm worker process (a zygote) and the DAG files it imported."""

    def __init__(self, zygote: Zygote, user: str | None = None) -> None:
        self.zygote = zygote
        #: The OS user the worker became at start (None: it runs as the executor's user).
        self.user = user
        #: DAG files this worker imported (it keeps them until they change).
        self.dag_files: set[str] = set()


@dataclass
class _Running:
    workload: Workload
    worker: _Worker
    terminating: bool = False
    #: The forked child's pid (= its process group), once started.
    child: int | None = None
    #: The state the child's finish recorded, when it came over the local channel.
    recorded: TaskInstanceState | None = None


@dataclass(frozen=True, slots=True)
class LocalExecutorStatistics:
    #: Pids of the live worker processes.
    workers: tuple[int, ...]
    running: int
    pending: int


class LocalExecutor(Executor):
    """Runs sync tasks in isolated forks of `parallelism` warm worker processes.

    `tokens` signs each try's token (the process's `ExecutionTokens`). `impersonation`
    says which OS user a try runs as besides its ``run_as_user`` (default: none, so a
    task without one runs as the workers' user). With
    ``channel="pipe"`` the tries' calls are answered here by `service` (the process's
    execution service), after the same checks as the HTTP routes; with ``channel="http"``
    tries call the execution API at `api_url` (``.../execution``). Logs go under
    `base_log_folder`. A try's HTTP calls retry a 503 or an unreachable server for up to
    `heartbeat_timeout` seconds (`task_runner.call_retry`). `max_json_depth` bounds the
    nesting of a call's arguments on the pipe channel (`execution.protocol.check_args`).
    """

    name = "local"

    def __init__(
        self,
        *,
        parallelism: int,
        tokens: ExecutionTokens,
        base_log_folder: Path,
        max_json_depth: int = DEFAULT_MAX_DEPTH,
        api_url: str = "",
        channel: LocalChannel = "http",
        service: TryService | None = None,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 60.0,
        terminate_grace: float = 10.0,
        shutdown_grace: float = 30.0,
        dag_import_timeout: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        name: str = "local",
        impersonation: Impersonation | None = None,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self._channel: ChannelServer | None = None
        if channel == "pipe":
            if service is None:
                raise ValueError("the pipe channel needs the execution service")
            from airflow_sc.execution.dispatch import ExecutionDispatcher
            from airflow_sc.executors._channel_server import ChannelServer

            self._channel = ChannelServer(
                ExecutionDispatcher(service, tokens, max_json_depth=max_json_depth)
            )
        elif not api_url:
            raise ValueError("the http channel needs the execution API's URL")
        self.channel = channel
        self.name = name
        self.parallelism = parallelism
        self.api_url = api_url
        self.tokens = tokens
        self.base_log_folder = base_log_folder
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.terminate_grace = terminate_grace
        self.shutdown_grace = shutdown_grace
        #: Seconds a worker may spend importing a DAG file before forking (then the child
        #: imports it, under the try's execution_timeout).
        self.dag_import_timeout = dag_import_timeout
        self.clock = clock
        #: Which OS user each try runs as (`airflow_sc.impersonation`).
        self.impersonation = impersonation or Impersonation()
        #: Under root, the user of tries that name none: the slots' workers become it once.
        self._pool_user = (
            task_user(None, self.impersonation, server_uid=0) if os.geteuid() == 0 else None
        )
        self._serving = False
        #: Submitted tries no slot has taken yet, by try id, oldest first.
        self._waiting: dict[str, Workload] = {}
        self._arrived = anyio.Event()
        self._events: MemoryObjectSendStream[TaskEvent] | None = None
        self._running: dict[str, _Running] = {}
        self._workers: set[_Worker] = set()
        #: DAG files whose import killed a worker before it forked: children import them.
        self._no_preload: set[str] = set()

    # -- the port ------------------------------------------------------------------------

    async def serve(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        ready = _Countdown(self.parallelism)
        await anyio.to_thread.run_sync(
            ensure_root_user, self.impersonation.default_user, self.impersonation.root_user
        )
        try:
            async with events, anyio.create_task_group() as tg:
                for _ in range(self.parallelism):
                    tg.start_soon(self._serve_slot, events, ready.count_down)
                await ready.wait()
                self._serving = True
                self._events = events
                task_status.started()
        finally:
            self._serving = False
            self._events = None

    async def submit(self, workloads: Sequence[Workload]) -> None:
        if not self._serving:
            raise RuntimeError(f"executor {self.name!r} is not serving")
        for workload in workloads:
            self._waiting[workload.ti_id] = workload
        if workloads:
            self._arrived.set()

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        running = self._running.get(ti_id)
        if running is not None:
            running.terminating = True
            stop = Stop(ti_id, reason, self.terminate_grace)
            with contextlib.suppress(ZygoteDied):  # if so, its slot reports the try failed
                await running.worker.zygote.send(stop)
            return
        waiting = self._waiting.pop(ti_id, None)
        if waiting is not None and self._events is not None:
            # Never started, and now no slot will take it.
            await self._events.send(TaskEvent(ti_id, waiting.key, self.clock(), info=reason))

    def open_slots(self) -> int:
        return max(0, self.parallelism - len(self._running) - len(self._waiting))

    def statistics(self) -> LocalExecutorStatistics:
        return LocalExecutorStatistics(
            workers=tuple(sorted(w.zygote.pid for w in self._workers)),
            running=len(self._running),
            pending=len(self._waiting),
        )

    # -- one worker slot -------------------------------------------------------------------

    async def _serve_slot(
        self, events: MemoryObjectSendStream[TaskEvent], ready: Callable[[], None]
    ) -> None:
        """One slot: its worker runs one try at a time. Under root with a task user for
        tries that name none (`_pool_user`), the worker becomes that user once, at start;
        a try that runs as another user goes to the slot's second worker, kept as root,
        whose child switches for that try alone."""
        while True:
            user = self._pool_user
            try:
                worker = await self._start_worker(user)
            except ZygoteDied as exc:
                if user is None:
                    log.warning("A local executor worker process did not start: %s", exc)
                    continue
                # Its tries switch one by one instead (and fail, saying why, if they can't).
                log.error("A worker could not become the OS user %r: %s", user, exc)
                user = None
                worker = await self._start_worker(None)
            other: _Worker | None = None
            try:
                ready()
                while True:
                    workload = await self._take(worker)
                    if user is None or self._user_of(workload) == user:
                        await self._run(worker, workload, events)
                        continue
                    if other is None:
                        other = await self._start_worker(None)
                    try:
                        await self._run(other, workload, events)
                    except ZygoteDied:
                        log.warning("A local executor worker process died; starting another")
                        await self._stop_worker(other)
                        other = None
            except ZygoteDied:
                log.warning("A local executor worker process died; starting another")
            finally:
                with anyio.CancelScope(shield=True):
                    await self._stop_worker(worker)
                    if other is not None:
                        await self._stop_worker(other)

    async def _start_worker(self, user: str | None) -> _Worker:
        """A warm worker, as `user` when given (it switches once, at start, and is given
        the log folder, where the executor makes each try's log file for it)."""
        args: list[str] = [self.channel]
        if user is not None:
            await anyio.to_thread.run_sync(open_log_folder_to, self.base_log_folder, user)
            settings = replace(
                self.impersonation,
                folders=(*self.impersonation.folders, str(self.base_log_folder)),
            )
            args.append(json.dumps({"user": user, "impersonation": settings.to_json()}))
        worker = _Worker(
            await start_zygote(WORKER_PROGRAM, *args, env=worker_environment(os.environ)), user
        )
        self._workers.add(worker)
        try:
            if not isinstance(await worker.zygote.receive(), Ready):  # the imports are warm
                raise ZygoteDied("the worker process did not start")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop_worker(worker)
            raise
        return worker

    async def _stop_worker(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        await worker.zygote.aclose()

    def _user_of(self, workload: Workload) -> str | None:
        """The OS user `workload`'s try runs as, when the slots' workers switch at start
        (else None: the worker's own user, whose child switches if it must)."""
        if self._pool_user is None:
            return None
        return task_user(workload.run_as_user, self.impersonation, server_uid=0)

    async def _take(self, worker: _Worker) -> Workload:
        """The next try for `worker`: the oldest waiting, or a little younger one whose
        DAG file the worker imported already."""
        while not self._waiting:
            if self._arrived.is_set():
                self._arrived = anyio.Event()
            await self._arrived.wait()
        chosen = None
        if worker.dag_files:
            for index, workload in enumerate(self._waiting.values()):
                if index >= _AFFINITY_WINDOW * self.parallelism:
                    break
                if workload.dag_fileloc in worker.dag_files:
                    chosen = workload
                    break
        if chosen is None:
            chosen = next(iter(self._waiting.values()))
        del self._waiting[chosen.ti_id]
        return chosen

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
            api_url=self.api_url if self._channel is None else "",
            token=self.tokens.issue(workload.ti_id),
            base_log_folder=str(self.base_log_folder),
            heartbeat_interval=self.heartbeat_interval,
            call_retry_window=self.heartbeat_timeout,
            impersonation=self.impersonation.to_json(),
            run_as_user=workload.run_as_user,
        )
        if worker.user is not None:  # its child cannot make its log file: made for it here
            make_log_file_for(self._log_path(workload), worker.user)
        running = self._running[workload.ti_id] = _Running(workload, worker)
        timeout = workload.execution_timeout
        fork = Fork(
            job=workload.ti_id,
            payload={
                "request": request.to_json(),
                "dag_fileloc": (
                    None
                    if workload.dag_fileloc in self._no_preload
                    else workload.dag_fileloc or None
                ),
                "preload_timeout": self.dag_import_timeout,
            },
            timeout=timeout,
            timeout_reason=(
                None
                if timeout is None
                else f"execution_timeout of {timeout:g}s exceeded; the task was killed"
            ),
            name="task",
            grace=self.terminate_grace,
            channel=self._channel is not None,
            result_limit=_REPORT_LIMIT,
        )
        try:
            await worker.zygote.send(fork)
            if workload.dag_fileloc:
                worker.dag_files.add(workload.dag_fileloc)
            finished: Exited | None = await self._until_finished(running)
        except ZygoteDied:
            if running.child is not None:
                # The child died with its worker (PDEATHSIG); its grandchildren did not.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(running.child, signal.SIGKILL)
            elif workload.dag_fileloc:
                # Died before forking: importing the DAG file killed it (os._exit at the
                # top of the file, a crash): the next tries import it in their child.
                self._no_preload.add(workload.dag_fileloc)
            event = TaskEvent(
                workload.ti_id,
                workload.key,
                self.clock(),
                recorded=running.recorded,
                info="the worker process running the task died",
            )
            await events.send(event)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                finished = await self._drain(running)
                with anyio.move_on_after(1):
                    await self._report(events, running, finished)
            raise
        finally:
            self._running.pop(workload.ti_id, None)
        await self._report(events, running, finished)

    async def _drain(self, running: _Running) -> Exited | None:
        """On shutdown: the grace to finish, then terminate; the worker's last answer."""
        worker, workload = running.worker, running.workload
        try:
            with anyio.move_on_after(self.shutdown_grace):
                return await self._until_finished(running)
            reason = "the executor shut down before the task finished"
            await worker.zygote.send(Stop(workload.ti_id, reason, self.terminate_grace))
            with anyio.move_on_after(self.terminate_grace + 5):
                return await self._until_finished(running)
        except ZygoteDied:
            pass
        return None

    async def _until_finished(self, running: _Running) -> Exited:
        while True:
            message = await self._receive(running)
            if isinstance(message, Forked):
                running.child = message.pid
            elif isinstance(message, Exited) and message.job == running.workload.ti_id:
                return message

    async def _receive(self, running: _Running) -> FromZygote:
        """The worker's next event, answering the child's execution-API calls meanwhile.

        A finish gets no answer (the child does not wait for it, it goes on to report and
        exit meanwhile): it is committed here, batched with other tries' finishes, before
        the worker's `Exited` is read (the worker sends whatever its child wrote before it
        exited first), so the try's event always follows the commit.
        """
        zygote, ti_id = running.worker.zygote, running.workload.ti_id
        while True:
            message = await zygote.receive()
            if not isinstance(message, Call):
                return message
            call = message.call
            if self._channel is None:
                answer: dict[str, Any] = {"id": None, "status": 400, "detail": "no channel"}
            elif call.get("op") == "finish":
                await self._record_finish(self._channel, running, call)
                continue
            else:
                answer = await self._channel.answer(ti_id, call)
            await zygote.send(Reply(ti_id, answer))

    async def _record_finish(
        self, channel: ChannelServer, running: _Running, call: dict[str, Any]
    ) -> None:
        with anyio.CancelScope(shield=True):  # a finished try is always recorded
            answer = await channel.answer(running.workload.ti_id, call)
        state = (call.get("args") or {}).get("state")
        if answer.get("status") == 200:
            running.recorded = _TI(str(state))
        else:
            note_in_log(
                self._log_path(running.workload),
                f"Could not record the try's state {state}: {answer.get('detail')}",
            )

    def _log_path(self, workload: Workload) -> Path:
        key = workload.key
        return try_log_path(
            self.base_log_folder,
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=key.try_number,
        )

    async def _report(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        running: _Running,
        finished: Exited | None,
    ) -> None:
        workload = running.workload
        if finished is None:
            event: TaskEvent | None = TaskEvent(
                workload.ti_id,
                workload.key,
                self.clock(),
                recorded=running.recorded,
                info="the task did not stop when the executor shut down",
            )
        else:
            end = finished.exit
            report = None
            if isinstance(finished.result, dict):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    report = TryReport.from_json(finished.result)
            if report is None and end.reason is None:  # say in the try's log why it failed
                note_in_log(
                    self._log_path(workload),
                    f"The task process {end.describe()} without reporting a result",
                )
            recorded = running.recorded
            if self._channel is None and report is not None and report.recorded:
                recorded = _TI(str(report.state))  # over HTTP the child knows
            event = event_for_end(
                workload,
                report,
                recorded=recorded,
                exit=end.describe(),
                reason=end.reason,
                at=self.clock(),
            )
        if event is not None:
            await report_event(events, event)


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
