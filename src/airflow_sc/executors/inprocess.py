"""`InProcessExecutor`: ``async def`` tasks, thousands at once, in the executor's event loop.

Each try is a task in the executor's task group, admitted by a `CapacityLimiter`. It goes
through the same execution service as a worker process (`TryService`: start -> RUNNING,
finish with its XComs and branch skips) without a transport, so the checks and writes are
the same; the service batches the starts and finishes of tries arriving together.
``execution_timeout`` is a cancel scope (in `arun_task`); `terminate` cancels the try's
scope.

Heartbeats: every `heartbeat_interval` seconds the executor records that all its running
tries are alive, in one statement for all of them (``heartbeat_many``), so housekeeping
does not take a long try for a zombie. A try the heartbeat finds no longer running (cleared,
or reclaimed by another scheduler) is cancelled, as a worker process is on a 409.

A blocking call in a task stalls every other task on the loop: each step of a task is
timed, and a step longer than `blocking_threshold` is reported in that try's log, with the
stack a watchdog thread sampled while the loop was blocked.

What a worker process reads lazily, an in-process try reads up front: the XComs of its DAG
run are loaded at start and pushes are written with the finish. Variables and connections
are read and written through the service when asked for: ``await Variable.aget(...)`` /
``await Connection.aget(...)`` in the task's coroutine, or the sync names from a worker
thread (``anyio.to_thread.run_sync``; `arun_task` renders templates that mention ``var`` or
``conn`` in one). A sync lookup on the event loop's thread itself (``Variable.get`` in the
coroutine) cannot wait for the database without stalling every other task, and fails
saying so. What a try reads is masked in its log.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.domain.retries import failed_try_state
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.execution.errors import NotFound, TryConflict
from airflow_sc.execution.port import TryService
from airflow_sc.execution.protocol import (
    DagRunTrigger,
    Start,
    TriggerOutcome,
    TryFinish,
    XComRef,
    check_value,
)
from airflow_sc.executors._blocking import BlockingWatchdog, timed_steps
from airflow_sc.executors._events import event_for_end, report_event
from airflow_sc.executors.base import Executor, TaskEvent, Workload
from airflow_sc.impersonation import ImpersonationError
from airflow_sc.impersonation.accounts import lookup_user
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.masking import SecretsMasker
from airflow_sc.task_runner.dag_files import DagFiles, load_dag_files
from airflow_sc.task_runner.execute import arun_task, run_info_of, unloadable
from airflow_sc.task_runner.logs import close_try_logger, open_try_logger, try_log_path
from airflow_sc.task_runner.outcome import TaskOutcome
from airflow_sc.task_runner.supervisor import TryReport

__all__ = ["InProcessExecutor", "SnapshotTaskClient"]

log = logging.getLogger(__name__)
_TI = TaskInstanceState


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SnapshotTaskClient:
    """A `TaskClient` for an in-process try: XComs read from a snapshot, pushes buffered.

    Variables and connections go through `service` (awaitable: `AsyncSecretsClient`);
    what is read is registered with `masker` (the try's log masker).
    """

    def __init__(
        self,
        task_id: str,
        map_index: int,
        xcoms: dict[tuple[str, int, str], Any],
        *,
        service: TryService | None = None,
        masker: SecretsMasker | None = None,
        ti_id: str | None = None,
    ):
        self._ti_id = ti_id
        self._task_id = task_id
        self._map_index = map_index
        self._xcoms = xcoms
        self._service = service
        self._masker = masker
        self.pushed: dict[str, Any] = {}

    def xcom_pull(
        self,
        task_id: str,
        key: str,
        map_index: int = -1,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        include_prior_dates: bool = False,
    ) -> Any:
        if dag_id is not None or run_id is not None or include_prior_dates:
            ref = XComRef(task_id, key, map_index, dag_id, run_id, include_prior_dates)
            return self._from_thread(
                f"XCom {key!r} of {task_id!r} beyond this run",
                "ti.xcom_pull from a sync task (the local executor)",
                self._find_xcom,
                ref,
            )
        if task_id == self._task_id and map_index == self._map_index and key in self.pushed:
            return self.pushed[key]
        return self._xcoms.get((task_id, map_index, key))

    def xcom_push(self, key: str, value: Any) -> None:
        # The rules a pushed value meets on the other transports, before it is kept.
        check_value(key, where="key")
        check_value(value, where="value")
        self.pushed[key] = value

    # -- secrets: awaited in the task's coroutine --------------------------------------------

    def _require_service(self) -> TryService:
        if self._service is None:
            raise RuntimeError("this in-process try has no execution service for secrets")
        return self._service

    async def aget_variable(self, key: str) -> str | None:
        value = await self._require_service().get_variable(key)
        if value is not None and self._masker is not None:
            self._masker.add_variable(key, value)
        return value

    async def aset_variable(self, key: str, value: str, description: str | None = None) -> None:
        if self._masker is not None:
            self._masker.add_variable(key, value)
        await self._require_service().set_variable(key, value, description=description)

    async def adelete_variable(self, key: str) -> bool:
        return await self._require_service().delete_variable(key)

    async def aget_connection(self, conn_id: str) -> Connection | None:
        fields = await self._require_service().get_connection(conn_id)
        if fields is None:
            return None
        conn = Connection.from_dict(conn_id, fields)
        if self._masker is not None:
            self._masker.add_connection(conn)
        return conn

    # -- secrets: sync names, usable from a worker thread only -------------------------------

    def _from_thread(self, what: str, hint: str, func: Any, *args: Any) -> Any:
        try:
            anyio.get_current_task()
        except RuntimeError:  # not on an event loop: a worker thread of the try's
            return anyio.from_thread.run(func, *args)
        raise RuntimeError(
            f"{what}: an async task on the in-process executor cannot wait for it on the event "
            f"loop; use `{hint}`, or run the task on the local executor (executor='local')"
        )

    def get_variable(self, key: str) -> str | None:
        found: str | None = self._from_thread(
            f"variable {key!r}", "await Variable.aget(...)", self.aget_variable, key
        )
        return found

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        self._from_thread(
            f"variable {key!r}",
            "await Variable.aset(...)",
            self.aset_variable,
            key,
            value,
            description,
        )

    def delete_variable(self, key: str) -> bool:
        deleted: bool = self._from_thread(
            f"variable {key!r}", "await Variable.adelete(...)", self.adelete_variable, key
        )
        return deleted

    def get_connection(self, conn_id: str) -> Connection | None:
        found: Connection | None = self._from_thread(
            f"connection {conn_id!r}", "await Connection.aget(...)", self.aget_connection, conn_id
        )
        return found

    async def _find_xcom(self, ref: XComRef) -> Any:
        if self._ti_id is None:
            raise RuntimeError("this in-process try has no id to read other runs' XComs with")
        try:
            return await self._require_service().find_xcom(self._ti_id, ref)
        except NotFound:
            return None

    # -- DAG runs (TriggerDagRunOperator): the runner calls these from a worker thread ------

    async def _trigger(self, request: DagRunTrigger) -> TriggerOutcome:
        if self._ti_id is None:
            raise RuntimeError("this in-process try has no id to trigger DAG runs with")
        return await self._require_service().trigger_dag_run(self._ti_id, request)

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        outcome: TriggerOutcome = self._from_thread(
            f"trigger DAG {request.dag_id!r}", "TriggerDagRunOperator", self._trigger, request
        )
        return outcome

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        state: str | None = self._from_thread(
            f"state of DAG run {run_id!r}",
            "TriggerDagRunOperator",
            self._require_service().dag_run_state,
            dag_id,
            run_id,
        )
        return state


class _DagCache:
    """DAG files imported into this process, re-imported when the file changes."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[int, DagFiles]] = {}
        self._lock = anyio.Lock()

    async def get_task(self, context: TryContext) -> tuple[Any, Any]:
        if not context.dag_fileloc:
            raise LookupError(f"DAG {context.dag_id!r} has no file recorded")
        path = context.dag_fileloc
        # A stat is microseconds: checked inline, so a burst of tries is not serialised.
        cached = self._files.get(path)
        if cached is None or cached[0] != os.stat(path).st_mtime_ns:
            async with self._lock:
                mtime = os.stat(path).st_mtime_ns
                cached = self._files.get(path)
                if cached is None or cached[0] != mtime:
                    loaded = await anyio.to_thread.run_sync(load_dag_files, Path(path))
                    cached = (mtime, loaded)
                    self._files[path] = cached
        dag = cached[1].dags.get(context.dag_id)
        if dag is None:
            raise LookupError(f"DAG {context.dag_id!r} not found in {path}")
        return dag.get_task(context.task_id), dag


class InProcessExecutor(Executor):
    """Runs ``async def`` tasks concurrently in the current event loop.

    They run inside the server's process, as its OS user, with its memory: no isolation.
    A try that should run as another user (its ``run_as_user``, else
    `default_impersonation`) fails, saying so, rather than run as the server's user.
    """

    name = "inprocess"

    def __init__(
        self,
        *,
        service: TryService,
        base_log_folder: Path,
        capacity: int = 10_000,
        blocking_threshold: float = 0.1,
        heartbeat_interval: float = 5.0,
        shutdown_grace: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        name: str = "inprocess",
        default_impersonation: str = "",
    ) -> None:
        self.name = name
        self.service = service
        self.default_impersonation = default_impersonation
        self.base_log_folder = base_log_folder
        self.capacity = capacity
        self.blocking_threshold = blocking_threshold
        self.heartbeat_interval = heartbeat_interval
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self._queue: MemoryObjectSendStream[Workload] | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._terminated: dict[str, str] = {}
        #: Tries started and not yet finishing: the ones the heartbeat speaks for.
        self._alive: set[str] = set()
        self._dags = _DagCache()
        self._masker = SecretsMasker()
        self._start = Start(socket.gethostname(), os.getpid())

    async def serve(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        send, receive = anyio.create_memory_object_stream[Workload](math.inf)
        self._limiter = limiter = anyio.CapacityLimiter(self.capacity)
        watchdog = BlockingWatchdog(self.blocking_threshold)
        watchdog.start()
        try:
            async with events, send, receive, anyio.create_task_group() as tg:
                self._queue = send
                tg.start_soon(self._heartbeat)
                task_status.started()
                try:
                    async for workload in receive:
                        tg.start_soon(self._run, workload, events, limiter, watchdog)
                except anyio.get_cancelled_exc_class():
                    self._queue = None
                    self._drain()
                    raise
        finally:
            self._queue = None
            watchdog.stop()

    async def submit(self, workloads: Sequence[Workload]) -> None:
        if self._queue is None:
            raise RuntimeError(f"executor {self.name!r} is not serving")
        for workload in workloads:
            self._queue.send_nowait(workload)

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        self._terminated[ti_id] = reason
        scope = self._scopes.get(ti_id)
        if scope is not None:
            scope.cancel()

    def open_slots(self) -> int | None:
        if self._limiter is None:
            return None
        return max(0, math.floor(self._limiter.available_tokens))

    async def _heartbeat(self) -> None:
        """Every `heartbeat_interval`: one heartbeat for all running tries; cancel the lost."""
        while True:
            await anyio.sleep(self.heartbeat_interval)
            sent = sorted(self._alive)
            if not sent:
                continue
            try:
                running = await self.service.heartbeat_many(sent)
            except Exception:
                log.exception("in-process executor %r: heartbeat failed", self.name)
                continue
            for ti_id in sent:
                # Not running and not finishing meanwhile: taken away (cleared, reclaimed).
                if ti_id not in running and ti_id in self._alive:
                    self._alive.discard(ti_id)
                    await self.terminate(
                        ti_id, reason="the try is no longer running on the server (cleared?)"
                    )

    def _drain(self) -> None:
        """Shutdown: running tries get `shutdown_grace`, then their scopes are cancelled."""
        deadline = anyio.current_time() + self.shutdown_grace
        for ti_id, scope in self._scopes.items():
            self._terminated.setdefault(ti_id, "the executor shut down before the task finished")
            scope.deadline = min(scope.deadline, deadline)

    async def _run(
        self,
        workload: Workload,
        events: MemoryObjectSendStream[TaskEvent],
        limiter: anyio.CapacityLimiter,
        watchdog: BlockingWatchdog,
    ) -> None:
        async with limiter:
            if (reason := self._terminated.pop(workload.ti_id, None)) is not None:
                await events.send(self._unrecorded(workload, reason))
                return
            # Shielded: a shutdown gives the try its grace (`_drain`) instead of cancelling it.
            event: TaskEvent | None = None
            with anyio.CancelScope(shield=True) as scope:
                self._scopes[workload.ti_id] = scope
                try:
                    event = await self._execute(workload, events, watchdog)
                finally:
                    del self._scopes[workload.ti_id]
            if scope.cancelled_caught:
                reason = self._terminated.pop(workload.ti_id, "terminated")
                event = self._unrecorded(workload, reason)
            if event is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await report_event(events, event)

    def _unrecorded(self, workload: Workload, reason: str) -> TaskEvent:
        """The event of a try that ended without recording its state."""
        return TaskEvent(workload.ti_id, workload.key, self.clock(), info=reason)

    async def _execute(
        self,
        workload: Workload,
        events: MemoryObjectSendStream[TaskEvent],
        watchdog: BlockingWatchdog,
    ) -> TaskEvent | None:
        try:
            context = await self.service.start(workload.ti_id, self._start)
        except TryConflict:
            log.warning("Not running %s: the try is not queued", workload.ti_id)
            return None
        path = try_log_path(
            self.base_log_folder,
            dag_id=context.dag_id,
            run_id=context.run_id,
            task_id=context.task_id,
            map_index=context.map_index,
            try_number=context.try_number,
        )
        logger = open_try_logger(path, self._masker, name=f"airflow.task.{workload.ti_id}")
        try:
            self._alive.add(workload.ti_id)
            xcoms = await self.service.run_xcoms(workload.ti_id)
            client = SnapshotTaskClient(
                context.task_id,
                context.map_index,
                xcoms,
                service=self.service,
                masker=self._masker,
                ti_id=workload.ti_id,
            )
            outcome = await self._outcome(context, client, logger, watchdog)
            self._alive.discard(workload.ti_id)  # finishing: a heartbeat no longer speaks for it
            finish = TryFinish(
                workload.ti_id,
                outcome.state,
                tuple(outcome.skip),
                tuple(client.pushed.items()),
                retry_delay=outcome.retry_delay,
            )
            recorded: TaskInstanceState | None = outcome.state
            with anyio.CancelScope(shield=True):  # a finished try is always recorded
                try:
                    await self.service.finish(finish)
                except TryConflict:
                    recorded = None
                    logger.warning("The try was no longer running; its state was not recorded")
        except anyio.get_cancelled_exc_class():
            # Terminated or shut down (`_drain`): say why in the try's own log.
            reason = self._terminated.get(workload.ti_id, "terminated")
            logger.warning("Stopping the task: %s", reason)
            raise
        finally:
            self._alive.discard(workload.ti_id)
            close_try_logger(logger)
        report = TryReport(
            state=outcome.state.value,
            # Masked: the reason is stored and shown (API, UI) like the log.
            info=self._masker.mask(outcome.error.strip().splitlines()[-1])
            if outcome.error
            else None,
            retry_allowed=outcome.retry_allowed,
            skip=tuple(sorted(outcome.skip)),
        )
        return event_for_end(
            workload, report, recorded=recorded, exit="", reason=None, at=self.clock()
        )

    def _other_user(self, task: Any) -> str | None:
        """Why `task` cannot run here (it should run as another OS user), if so."""
        asked = (getattr(task, "run_as_user", None) or self.default_impersonation).strip()
        if not asked:
            return None
        try:
            if lookup_user(asked).pw_uid == os.geteuid():
                return None
        except ImpersonationError:
            pass
        return (
            f"the task should run as the OS user {asked!r}, but the in-process executor runs "
            "tasks inside the server's process, as the server's user; run it on the local "
            "executor (executor='local')"
        )

    async def _outcome(
        self,
        context: TryContext,
        client: SnapshotTaskClient,
        logger: logging.Logger,
        watchdog: BlockingWatchdog,
    ) -> TaskOutcome:
        try:
            task, dag = await self._dags.get_task(context)
        except Exception as exc:
            return unloadable(context, exc, logger)
        if (refusal := self._other_user(task)) is not None:
            logger.error("%s", refusal)
            return TaskOutcome(
                state=failed_try_state(context.try_number, context.max_tries),
                try_number=context.try_number,
                duration=0.0,
                error=refusal,
            )

        def blocked(seconds: float, stack: str | None) -> None:
            logger.warning(
                "Blocking call detected: this task held the event loop for %.3f s without "
                "awaiting, stalling every other task on it (use an async API or "
                "`await anyio.to_thread.run_sync(...)`).%s",
                seconds,
                f"\nWhere it was blocked:\n{stack}" if stack else "",
            )

        return await timed_steps(
            arun_task(
                task,
                dag=dag,
                run=run_info_of(context),
                try_number=context.try_number,
                max_tries=context.max_tries,
                client=client,
                log=logger,
            ),
            watchdog,
            blocked,
        )
