"""What runs inside the isolated child process of one try (the local executor's fork).

`run_try(request, report)`: capture output into the try's log file, move the try to
RUNNING through the execution API, load the DAG file, become the try's OS user
(`airflow_sc.impersonation`: before any thread starts and any task code runs; a try that
cannot fails with the reason), run the task with heartbeats in a background thread,
record the outcome through the API, and hand a short `TryReport` to the parent through
`report` (the executor turns it into the try's `TaskEvent`).

The execution API is reached over HTTP (`ExecutionApiClient`) or, when the local executor
passes `connect`, over its local channel (``executors/_channel.py``): the same operations
with the same token, without the HTTP stack; there the worker sends the heartbeats (a
client with ``sends_heartbeats = False`` gets no heartbeat thread) and a 409 reaches the
task as the same SIGTERM. The DAG file is taken from the process's cache
(`cached_dag_file`) when the worker imported it before forking.

SIGTERM (terminate, execution_timeout, shutdown, a cleared try) first calls the running
task's ``on_kill`` (`kill_running_task`: a BashOperator stops its command's process group
there), then raises `TaskTerminated` in the task's thread, so the try fails (retries apply)
and its failure callbacks run; a task that ignores it is killed by the parent after the
grace period. A 409 on heartbeat (the try was taken away, e.g. cleared) sends SIGTERM to
the child's own process group.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from airflow_sc.compat import installed_options, use_venv_cache
from airflow_sc.domain.retries import failed_try_state
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.impersonation import Impersonation, ImpersonationError, task_user
from airflow_sc.sdk._task_client import TaskClient
from airflow_sc.sdk.exceptions import AirflowException
from airflow_sc.secrets.masking import SecretsMasker
from airflow_sc.task_runner.dag_files import cached_dag_file
from airflow_sc.task_runner.execute import (
    kill_running_task,
    run_info_of,
    run_task,
    unloadable,
)
from airflow_sc.task_runner.http_client import (
    ExecutionApiClient,
    ExecutionApiError,
    TryNoLongerRunning,
)
from airflow_sc.task_runner.logs import capture_process_output, try_log_path
from airflow_sc.task_runner.outcome import TaskOutcome

__all__ = ["TaskRequest", "TaskTerminated", "TryClient", "TryReport", "run_try", "warm_up"]

log = logging.getLogger("airflow.task")


class TryClient(TaskClient, Protocol):
    """The execution API as one try's process uses it (HTTP or the local channel)."""

    def start(self) -> TryContext: ...

    def heartbeat(self) -> None: ...

    def finish(
        self,
        state: TaskInstanceState,
        *,
        skip: Iterable[str] = (),
        retry_delay: float | None = None,
    ) -> None: ...

    def close(self) -> None: ...


class TaskTerminated(AirflowException):
    """The try received SIGTERM (terminated by the executor, or the deployment stopping)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRequest:
    """Everything a child needs to run one try; no database credentials."""

    ti_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    api_url: str
    token: str
    base_log_folder: str
    heartbeat_interval: float = 5.0
    #: Seconds a call of the execution API over HTTP retries a 503 or an unreachable
    #: server (the scheduler's heartbeat timeout).
    call_retry_window: float = 60.0
    #: `Impersonation.to_json()`: which OS user the try runs as (None: the task's
    #: ``run_as_user`` alone decides).
    impersonation: dict[str, Any] | None = None
    #: A fresh directory the try's user gets as working directory and ``TMPDIR`` ("": none).
    scratch: str = ""
    #: The task's ``run_as_user`` as its DAG version says (None: the defaults decide).
    run_as_user: str | None = None

    def log_path(self) -> Path:
        return try_log_path(
            Path(self.base_log_folder),
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
            map_index=self.map_index,
            try_number=self.try_number,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRequest:
        return cls(**data)


@dataclass(frozen=True, slots=True, kw_only=True)
class TryReport:
    """How the try ended, as the child saw it. `state` None: the try never started.

    `recorded`: the execution service accepted the try's finish (over HTTP the child knows;
    over the local channel the executor answered the finish itself and knows better).
    """

    state: str | None
    info: str | None = None
    retry_allowed: bool = True
    skip: tuple[str, ...] = ()
    recorded: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "skip": list(self.skip)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TryReport:
        return cls(
            state=data.get("state"),
            info=data.get("info"),
            retry_allowed=bool(data.get("retry_allowed", True)),
            skip=tuple(data.get("skip") or ()),
            recorded=bool(data.get("recorded", False)),
        )


def warm_up(*, http: bool = True) -> None:
    """Import and build, once, what every try needs (a worker calls this before forking).

    Without it each forked child would import the HTTP stack, Jinja and the like itself:
    about 100 ms per try instead of a few. `http=False` (tries reach the execution API
    over the local channel) skips building the HTTP client and its TLS context: a smaller
    worker forks faster.
    """
    import jinja2.ext  # noqa: F401 - imported by every Jinja environment's construction

    import airflow_sc.sdk.templating  # noqa: F401 - Jinja, used to render every task

    if http:
        ExecutionApiClient("http://127.0.0.1", ti_id="warm-up", token="").close()


def run_try(
    request: TaskRequest,
    report: Callable[[TryReport], None],
    connect: Callable[[SecretsMasker], TryClient] | None = None,
) -> None:
    """Run one try in this (disposable) process; `report` gets the outcome once.

    `connect(masker)` opens the client of the execution API (default: HTTP at
    ``request.api_url``); secrets read through it are added to `masker`.
    """
    masker = SecretsMasker()
    log_file = capture_process_output(request.log_path(), masker)
    client: TryClient
    if connect is not None:
        client = connect(masker)
    else:
        client = ExecutionApiClient(
            request.api_url,
            ti_id=request.ti_id,
            token=request.token,
            masker=masker,
            retry_for=request.call_retry_window,
        )
    try:
        outcome = _run(request, client)
        if outcome.info:  # stored and shown (API, UI) like the log: masked like it
            outcome = replace(outcome, info=masker.mask(outcome.info))
        report(outcome)
    finally:
        client.close()
        log_file.flush()


def _run(request: TaskRequest, client: TryClient) -> TryReport:
    try:
        context = client.start()
    except TryNoLongerRunning as exc:
        log.warning("Not running try %s: %s", request.ti_id, exc)
        return TryReport(state=None, info=f"the try could not start: {exc}")
    signal.signal(signal.SIGTERM, _raise_terminated)
    stop = threading.Event()
    try:
        loaded = _load_and_switch(request, context)
        # Threads only now: the switch needs a single-threaded process.
        if getattr(client, "sends_heartbeats", True):  # else its worker sends them
            beat = threading.Thread(
                target=_heartbeat, args=(client, request.heartbeat_interval, stop), daemon=True
            )
            beat.start()
        outcome = _execute(context, client, loaded)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stop.set()
    recorded = False
    try:
        client.finish(outcome.state, skip=outcome.skip, retry_delay=outcome.retry_delay)
        recorded = True
    except ExecutionApiError as exc:
        log.warning("Could not record the try's state %s: %s", outcome.state.value, exc)
    log.info("Task finished: %s", outcome.state.value)
    return TryReport(
        state=outcome.state.value,
        info=_summary(outcome.error),
        retry_allowed=outcome.retry_allowed,
        skip=tuple(sorted(outcome.skip)),
        recorded=recorded,
    )


class _NotSwitched(Exception):
    """The try could not run as its OS user: it fails, and no task code runs."""


def _load_and_switch(request: TaskRequest, context: TryContext) -> tuple[Any, Any] | Exception:
    """The try's task and DAG (or why not), imported by this process once it has become
    the try's user: no code of the DAG file runs as the server's user."""
    try:
        _switch_user(request)
    except (ImpersonationError, OSError) as exc:
        return _NotSwitched(str(exc))
    try:
        return _load_task(context)
    except Exception as exc:
        return exc


#: The OS user this worker process became at start (`become_worker_user`), if it did.
_WORKER_USER: str | None = None


def worker_user() -> str | None:
    return _WORKER_USER


def become_worker_user(spec: dict[str, Any]) -> None:
    """Become, once, the OS user every try of this worker runs as (``{"user",
    "impersonation"}``): the worker's children then need no switch of their own, and the DAG
    files the worker imports run as that user too. Raises what `become` raises."""
    global _WORKER_USER
    from airflow_sc.impersonation.switch import become

    user = str(spec["user"])
    settings = Impersonation.from_json(spec.get("impersonation"))
    own = own_folders(user)
    become(user, folders=settings.folders, own=own)
    for venvs in own:
        use_venv_cache(venvs)
    _WORKER_USER = user


def _switch_user(request: TaskRequest) -> None:
    """Become the OS user the try runs as (`airflow_sc.impersonation`), before the DAG file
    is imported, any thread starts and any task code runs; the log says which user and what
    it cost."""
    if _WORKER_USER is not None:  # the worker became the try's user at start
        _use_scratch(request.scratch)
        log.info("Running as the OS user %r (uid %d), as its worker", _WORKER_USER, os.getuid())
        return
    settings = Impersonation.from_json(request.impersonation)
    name = task_user(request.run_as_user, settings, server_uid=os.geteuid())
    if name is None:
        return
    from airflow_sc.impersonation.switch import become

    own = own_folders(name)
    switched = become(name, folders=settings.folders, scratch=request.scratch or None, own=own)
    if switched is not None:
        for venvs in own:  # the shared cache is the server's; the user gets one of its own
            use_venv_cache(venvs)
        log.info(
            "Running as the OS user %r (uid %d); switching took %.1f ms%s",
            switched.user,
            switched.uid,
            switched.seconds * 1000,
            f", covering {', '.join(switched.covered)}" if switched.covered else "",
        )


def _use_scratch(scratch: str) -> None:
    """The try's fresh scratch directory as its working directory and ``TMPDIR``."""
    if not scratch:
        return
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = None  # computed again from TMPDIR
    os.chdir(scratch)


def own_folders(user: str) -> tuple[str, ...]:
    """What a task process running as `user` keeps from try to try: its own cache of
    virtualenvs, next to the server's (``<home>/venvs/users/<user>``)."""
    cache = installed_options().venv_cache_path
    return (str(Path(cache) / "users" / user),) if cache else ()


def _execute(
    context: TryContext, client: TryClient, loaded: tuple[Any, Any] | Exception
) -> TaskOutcome:
    if isinstance(loaded, _NotSwitched):
        log.error("The task cannot run as its OS user: %s", loaded)
        return TaskOutcome(
            state=failed_try_state(context.try_number, context.max_tries),
            try_number=context.try_number,
            duration=0.0,
            error=f"the task cannot run as its OS user: {loaded}",
        )
    if isinstance(loaded, Exception):
        return unloadable(context, loaded, log)
    task, dag = loaded
    return run_task(
        task,
        dag=dag,
        run=run_info_of(context),
        try_number=context.try_number,
        max_tries=context.max_tries,
        client=client,
        log=log,
    )


def _load_task(context: TryContext) -> tuple[Any, Any]:
    if not context.dag_fileloc:
        raise LookupError(f"DAG {context.dag_id!r} has no file recorded")
    found = cached_dag_file(Path(context.dag_fileloc))
    dag = found.dags.get(context.dag_id)
    if dag is None:
        error = found.errors.get(Path(context.dag_fileloc).resolve())
        raise LookupError(
            f"DAG {context.dag_id!r} not found in {context.dag_fileloc}"
            + (f":\n{error}" if error else "")
        )
    return dag.get_task(context.task_id), dag


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
    log.error("Received SIGTERM: stopping the task")
    kill_running_task(log)
    raise TaskTerminated("the task received SIGTERM")


def _heartbeat(client: TryClient, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            client.heartbeat()
        except TryNoLongerRunning:
            log.error("The try is no longer running on the server (cleared?); stopping")
            os.killpg(os.getpgrp(), signal.SIGTERM)
            return
        except Exception as exc:
            log.warning("Heartbeat failed: %s", exc)


def _summary(error: str | None) -> str | None:
    if not error:
        return None
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1][:1000] if lines else None


def report_to_fd(fd: int) -> Callable[[TryReport], None]:
    """A `report` callable writing the JSON report to a pipe (the forked child's way)."""

    def write(result: TryReport) -> None:
        with os.fdopen(fd, "wb") as out:
            out.write(json.dumps(result.to_json()).encode())

    return write
