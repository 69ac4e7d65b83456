"""What the local executor's warm workers do: a `ChildProgram` (see `children`).

A worker is a zygote running `PROGRAM` with the channel's name as its argument
(``pipe`` or ``http``). It imports the SDK, the task runner and that channel's client
once (`warm_up`); each try then runs in a fork of it (about a millisecond, against
12-22 ms for a fresh interpreter; see ``benchmarks/executor_overhead.py``). A job's
payload is ``{"request": TaskRequest, "dag_fileloc": path|null, "preload_timeout": s}``
and the child's result is the try's `TryReport`. A worker running as root gives each
child a fresh scratch directory (``request.scratch``), which the child hands to the OS
user it becomes (`airflow_sc.impersonation`).

Before forking a try that runs as the worker's own user, the worker imports the try's DAG
file (`cached_dag_file`, for at most ``preload_timeout`` seconds; a file that fails or
hangs is not tried again by this worker until it changes and is left to the child, which
reports the error in the try's log), so the child inherits the loaded DAG and a worker
imports a file once, not once per try. A try that becomes another OS user (its
``run_as_user``, from the DAG version, or the deployment's default) imports the DAG file
itself, after the switch: no code of a DAG file runs as the server's user in a worker.

With the ``pipe`` channel the worker relays the child's execution-API calls to the
executor (`_HeartbeatRelay`) and sends the try's heartbeats itself, so the child needs no
thread for them. Why the worker stopped a child goes into the try's log.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from airflow_sc.children import CallRelay, ChildControl, Fork
from airflow_sc.impersonation.scratch import Scratch

__all__ = ["PROGRAM", "TaskProgram", "note_in_log"]

#: The id of the heartbeat calls the worker sends for its child on the local channel.
_HEARTBEAT = "worker-heartbeat"


class TaskProgram:
    """Run one try per child, reporting over the local channel or HTTP."""

    def warm_up(self, args: list[str]) -> None:
        from airflow_sc.compat import install_airflow_compat_from_environment

        install_airflow_compat_from_environment()  # `import airflow`, plugins: as the parent
        from airflow_sc.executors import _channel  # noqa: F401 - the children's client
        from airflow_sc.task_runner import supervisor

        supervisor.warm_up(http=args[:1] != ["pipe"])
        if len(args) > 1:  # a worker for one OS user: it becomes that user once, here
            supervisor.become_worker_user(json.loads(args[1]))

    def prepare(self, fork: Fork) -> None:
        request = fork.payload["request"]
        if supervisor_user() is not None:  # switched already: its tries get a scratch dir
            request["scratch"] = _SCRATCH.fresh()
        user = _try_user(request)
        fileloc = fork.payload.get("dag_fileloc")
        if fileloc and user is None:  # a child that switches users imports it as that user
            _preload(str(fileloc), float(fork.payload.get("preload_timeout", 30.0)))
        if user is not None:  # the child becomes another user: it gets a scratch dir
            request["scratch"] = _SCRATCH.fresh()
            with contextlib.suppress(Exception):  # else the child does it all itself
                _prepare_switch(request, user)

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay:
        request = fork.payload["request"]
        interval = float(request.get("heartbeat_interval") or 5.0)
        return _HeartbeatRelay(str(request["token"]), interval, fork.grace, control)

    def note(self, fork: Fork, text: str) -> None:
        note_in_log(_log_path(fork.payload["request"]), text)

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        from airflow_sc.task_runner.supervisor import TaskRequest, report_to_fd, run_try

        task_request = TaskRequest.from_json(fork.payload["request"])
        connect = None
        if channel_fd is not None:
            from airflow_sc.executors._channel import ChannelClient

            def connect(masker: Any) -> Any:
                return ChannelClient(
                    channel_fd, ti_id=task_request.ti_id, token=task_request.token, masker=masker
                )

        run_try(task_request, report_to_fd(result_fd), connect)


PROGRAM = TaskProgram()


class _HeartbeatRelay:
    """The worker's part in a try's local channel.

    The worker sends the try's heartbeats (every `interval` seconds, with the try's token)
    once the try started: a heartbeat refused with 409 (the try was cleared or taken away)
    SIGTERMs the child's group, as the child itself would over HTTP. The fresh token each
    heartbeat returns replaces the try's token in the child's later calls (the child's own
    copy would expire with a long task); any other token the child sends is relayed as it
    is, and checked.
    """

    def __init__(self, token: str, interval: float, grace: float, control: ChildControl) -> None:
        self._issued = token
        self._token = token
        self.interval = interval
        self.grace = grace
        self.control = control
        self.next_beat = time.monotonic() + interval
        self._beating = False
        #: The id of the child's `start` call, then True once it was answered 200.
        self._started: Any = None

    def outgoing(self, call: dict[str, Any]) -> dict[str, Any]:
        if call.get("token") == self._issued:
            call["token"] = self._token  # the try's token, as renewed by heartbeats
        if call.get("op") == "start" and self._started is None:
            self._started = call.get("id")
        return call

    def incoming(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        if reply.get("id") != _HEARTBEAT:
            if self._started is not None and reply.get("id") == self._started:
                self._started = reply.get("status") == 200 or None
                self.next_beat = time.monotonic() + self.interval
            return reply
        self._beating = False
        self.next_beat = time.monotonic() + self.interval
        status = reply.get("status")
        if status == 200:
            self._token = str((reply.get("value") or {}).get("token") or self._token)
        elif status == 409:
            note = "The try is no longer running on the server (cleared?); stopping"
            self.control.revoke(note, self.grace)
        else:
            self.control.note(f"Heartbeat failed: {reply.get('detail')}")
        return None

    def next_due(self) -> float | None:
        if self._started is not True or self._beating:
            return None
        return self.next_beat

    def due(self, now: float) -> dict[str, Any] | None:
        if self._started is not True or self._beating or now < self.next_beat:
            return None
        self._beating = True
        return {"id": _HEARTBEAT, "op": "heartbeat", "token": self._token, "args": {}}


def supervisor_user() -> str | None:
    """The OS user this worker became at start (None: it did not switch)."""
    from airflow_sc.task_runner.supervisor import worker_user

    return worker_user()


def _try_user(request: dict[str, Any]) -> str | None:
    """The OS user the try's child becomes (None: it stays this worker's user)."""
    if os.geteuid() != 0:
        return None  # a worker that is not root switches no one (the child refuses others)
    from airflow_sc.impersonation import Impersonation, task_user

    settings = Impersonation.from_json(request.get("impersonation"))
    return task_user(request.get("run_as_user"), settings, server_uid=0)


def _prepare_switch(request: dict[str, Any], user: str) -> None:
    """Look up, before forking, what the try's user needs (see
    `airflow_sc.impersonation.switch.prepare`): once per worker and user, not per try."""
    from airflow_sc.impersonation import Impersonation
    from airflow_sc.impersonation.switch import prepare
    from airflow_sc.task_runner.supervisor import own_folders

    settings = Impersonation.from_json(request.get("impersonation"))
    prepare(user, folders=settings.folders, own=own_folders(user))


_SCRATCH = Scratch()
atexit.register(_SCRATCH.remove)


class _PreloadTimeout(Exception):
    pass


#: (path, mtime_ns, size) of DAG files whose import failed or hung in this worker.
_UNLOADABLE: set[tuple[str, int, int]] = set()


def _raise_preload_timeout(signum: int, frame: Any) -> None:
    raise _PreloadTimeout("importing the DAG file took too long")


def _preload(fileloc: str, timeout: float) -> None:
    """Import the DAG file here, once, so the children inherit it (see the module doc)."""
    from airflow_sc.task_runner.dag_files import cached_dag_file

    try:
        status = os.stat(fileloc)
    except OSError:
        return
    stamp = (fileloc, status.st_mtime_ns, status.st_size)
    if stamp in _UNLOADABLE:
        return
    loaded = False
    previous = signal.signal(signal.SIGALRM, _raise_preload_timeout)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        loaded = not cached_dag_file(Path(fileloc)).errors
    except BaseException:
        loaded = False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if not loaded:
        _UNLOADABLE.add(stamp)


def _log_path(request: dict[str, Any]) -> str:
    from airflow_sc.task_runner.supervisor import TaskRequest

    return str(TaskRequest.from_json(request).log_path())


def note_in_log(path: str | Path, text: str) -> None:
    """A line in the try's log from outside the task (why it was stopped, say)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as log:
        log.write(f"[{stamp}] {{executor}} WARNING - {text}\n")
