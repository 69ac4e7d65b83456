"""A warm worker process of the local executor: forks one isolated child per try.

Run as ``python -m airflow_sc.executors._worker [pipe|http]``. It imports the SDK, the
task runner and the execution-API client of that channel once, then reads JSON lines on
stdin:

- ``{"op": "run", "request": {...TaskRequest...}, "timeout": s|null, "grace": s,
  "dag_fileloc": path|null, "preload_timeout": s, "channel": "pipe"|"http"}``
- ``{"op": "terminate", "ti_id": ..., "reason": ..., "grace": s}``
- ``{"op": "reply", "ti_id": ..., "reply": {...}}``: the answer to the child's last call

and answers JSON lines on its protocol channel (the original stdout):
``{"event": "ready"}``, ``{"event": "started", "ti_id", "pid"}``,
``{"event": "call", "ti_id", "call": {...}}`` (an execution-API call of the child, relayed
from the local channel, see ``_channel.py``),
``{"event": "finished", "ti_id", "report": {...}|null, "exit": "...", "reason": ...}``.

Before forking, the worker imports the try's DAG file (`cached_dag_file`, for at most
``preload_timeout`` seconds; a file that fails or hangs is not tried again by this worker
until it changes and is left to the child, which reports the error in the try's log), so
the child inherits the loaded DAG and a worker imports a file once, not once per try.

Each try runs in a `fork()` of this warm process (about a millisecond, against 12-22 ms
for a fresh interpreter; see ``benchmarks/executor_overhead.py``). The child gets its own
session, so the whole process group (grandchildren included) is signalled on timeout,
terminate and shutdown; its result travels on a private pipe, and no result means it died
(the exit code or signal says how). The worker owns the child's pid until it reaps it, so
a kill never hits a reused pid. If stdin closes (the executor went away) the running
child's group is killed and the worker exits: nothing outlives the executor.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import IO, Any

RESULT_LIMIT = 16 * 1024 * 1024
_PR_SET_PDEATHSIG = 1
#: Seconds between checks that the child is still alive while nothing else happens (a
#: grandchild in another session may hold the result pipe open after the child died).
_POLL = 0.5
#: The id of the heartbeat calls the worker sends for its child on the local channel.
_HEARTBEAT = "worker-heartbeat"


class _Inbox:
    """Newline-delimited messages from an fd, readable without blocking past `select`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self.closed = False

    def fill(self) -> None:
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.closed = True
        self._buffer += chunk

    def pop_messages(self) -> list[dict[str, Any]]:
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def next_message(self) -> dict[str, Any] | None:
        """Block until one message arrives; None at end of input."""
        while True:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.strip():
                    message: dict[str, Any] = json.loads(line)
                    return message
                continue
            if self.closed:
                return None
            self.fill()


def main() -> int:
    # Keep the protocol channel private: anything printed by accident goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    # Ctrl-C reaches the whole foreground group; the executor decides about shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from airflow_sc.compat import install_airflow_compat_from_environment

    install_airflow_compat_from_environment()  # `import airflow`, plugins: as the parent
    from airflow_sc.executors import _channel  # noqa: F401 - the children's client
    from airflow_sc.task_runner import supervisor

    supervisor.warm_up(http=sys.argv[1:2] != ["pipe"])
    # Move everything imported so far out of the collector's sight: a forked child's
    # collections then never touch (and copy) the parent's pages.
    gc.freeze()

    _send(protocol, {"event": "ready", "pid": os.getpid()})
    inbox = _Inbox(0)
    while (message := inbox.next_message()) is not None:
        if message.get("op") == "run":
            _send(protocol, _run_one(message, inbox, protocol))
        # a terminate for a try that already finished is a no-op
    return 0


def _send(protocol: IO[str], message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message) + "\n")


def _run_one(message: dict[str, Any], inbox: _Inbox, protocol: IO[str]) -> dict[str, Any]:
    request = message["request"]
    ti_id = request["ti_id"]
    timeout = message.get("timeout")
    if message.get("dag_fileloc"):
        _preload(str(message["dag_fileloc"]), float(message.get("preload_timeout", 30.0)))
    relay: _Relay | None = None
    theirs: socket.socket | None = None
    if message.get("channel") == "pipe":
        ours, theirs = socket.socketpair()
        interval = float(request.get("heartbeat_interval") or 5.0)
        relay = _Relay(ours, ti_id, str(request["token"]), interval, protocol)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        if relay is not None:
            os.close(relay.sock.detach())
        _child(request, write_fd, protocol, theirs.detach() if theirs is not None else None)
    os.close(write_fd)
    if theirs is not None:
        theirs.close()
    _send(protocol, {"event": "started", "ti_id": ti_id, "pid": pid})
    watch = _Watch(pid, time.monotonic(), timeout, _log_path(request))
    try:
        data = _collect(read_fd, inbox, watch, ti_id, float(message.get("grace", 10.0)), relay)
    finally:
        if relay is not None:
            relay.sock.close()
    os.close(read_fd)
    _kill_group(pid, signal.SIGKILL)  # grandchildren the task left behind
    _, status = os.waitpid(pid, 0)
    report = None
    if data:
        with contextlib.suppress(ValueError):
            report = json.loads(data)
    if report is None and watch.reason is None:  # say in the try's log why it failed
        how = _describe_exit(status)
        _note_in_log(watch.log_path, f"The task process {how} without reporting a result")
    return {
        "event": "finished",
        "ti_id": ti_id,
        "report": report,
        "exit": _describe_exit(status),
        "reason": watch.reason,
    }


class _Watch:
    """Deadlines of one child: execution_timeout, then SIGKILL after the grace period."""

    def __init__(self, pid: int, started: float, timeout: float | None, log_path: str) -> None:
        self.pid = pid
        self.log_path = log_path
        self.deadline = started + timeout if timeout is not None else None
        self.timeout = timeout
        self.kill_at: float | None = None
        self.reason: str | None = None
        self.exited = False

    def stop(self, reason: str, grace: float) -> None:
        """SIGTERM the group now, SIGKILL after `grace` (first reason wins)."""
        if self.reason is None:
            self.reason = reason
            _note_in_log(self.log_path, f"Stopping the task: {reason}")
        if self.kill_at is None:
            _kill_group(self.pid, signal.SIGTERM)
            self.kill_at = time.monotonic() + grace
        else:
            self.kill_at = min(self.kill_at, time.monotonic() + grace)

    def revoke(self, note: str, grace: float) -> None:
        """SIGTERM the group (SIGKILL after `grace`) without a reason of the executor's:
        the task sees SIGTERM and fails the way it does on its own."""
        _note_in_log(self.log_path, note)
        if self.kill_at is None:
            _kill_group(self.pid, signal.SIGTERM)
            self.kill_at = time.monotonic() + grace

    def next_wakeup(self) -> float:
        now = time.monotonic()
        times = [t for t in (self.deadline, self.kill_at) if t is not None]
        return max(0.0, min([now + _POLL, *times]) - now)

    def tick(self, grace: float) -> None:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            self.stop(
                f"execution_timeout of {self.timeout:g}s exceeded; the task was killed", grace
            )
        if self.kill_at is not None and now >= self.kill_at:
            _note_in_log(self.log_path, "The task did not stop after SIGTERM: killing it")
            _kill_group(self.pid, signal.SIGKILL)
            self.kill_at = None
        with contextlib.suppress(ChildProcessError):
            # WNOWAIT: look without reaping, so the pid stays ours until `waitpid`.
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            self.exited = os.waitid(os.P_PID, self.pid, flags) is not None


class _Relay:
    """The worker's end of a child's local channel: calls go up, answers come down.

    The worker also sends the try's heartbeats (every `interval` seconds, with the try's
    token) once the try started, so the child needs no thread for them: a heartbeat
    refused with 409 (the try was cleared or taken away) SIGTERMs the child's group, as
    the child itself would over HTTP. The fresh token each heartbeat returns replaces the
    try's token in the child's later calls (the child's own copy would expire with a long
    task); any other token the child sends is relayed as it is, and checked.
    """

    def __init__(
        self, sock: socket.socket, ti_id: str, token: str, interval: float, protocol: IO[str]
    ) -> None:
        self.sock = sock
        self.ti_id = ti_id
        self.protocol = protocol
        self.open = True
        self._buffer = b""
        self._issued = token
        self._token = token
        self.interval = interval
        self.next_beat = time.monotonic() + interval
        self._beating = False
        #: The id of the child's `start` call, then True once it was answered 200.
        self._started: Any = None

    def heartbeat_due(self, now: float) -> None:
        if self._started is not True or self._beating or now < self.next_beat or not self.open:
            return
        self._beating = True
        call = {"id": _HEARTBEAT, "op": "heartbeat", "token": self._token, "args": {}}
        _send(self.protocol, {"event": "call", "ti_id": self.ti_id, "call": call})

    def on_reply(self, reply: dict[str, Any], watch: _Watch, grace: float) -> None:
        if reply.get("id") != _HEARTBEAT:
            if self._started is not None and reply.get("id") == self._started:
                self._started = reply.get("status") == 200 or None
                self.next_beat = time.monotonic() + self.interval
            self.answer(reply)
            return
        self._beating = False
        self.next_beat = time.monotonic() + self.interval
        status = reply.get("status")
        if status == 200:
            self._token = str((reply.get("value") or {}).get("token") or self._token)
        elif status == 409:
            watch.revoke("The try is no longer running on the server (cleared?); stopping", grace)
        else:
            _note_in_log(watch.log_path, f"Heartbeat failed: {reply.get('detail')}")

    def fileno(self) -> int:
        return self.sock.fileno()

    def pump(self) -> None:
        """Relay what the child wrote (whole lines) to the executor."""
        try:
            chunk = self.sock.recv(1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self.open = False
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                call = json.loads(line)
            except ValueError:
                self.answer({"id": None, "status": 400, "detail": "the call is not JSON"})
                continue
            if not isinstance(call, dict):
                self.answer({"id": None, "status": 400, "detail": "the call is not an object"})
                continue
            if call.get("token") == self._issued:
                call["token"] = self._token  # the try's token, as renewed by heartbeats
            if call.get("op") == "start" and self._started is None:
                self._started = call.get("id")
            _send(self.protocol, {"event": "call", "ti_id": self.ti_id, "call": call})

    def answer(self, reply: dict[str, Any]) -> None:
        """Hand the executor's answer to the child (gone already: nobody to tell)."""
        with contextlib.suppress(OSError):
            self.sock.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")


def _collect(
    read_fd: int,
    inbox: _Inbox,
    watch: _Watch,
    ti_id: str,
    grace: float,
    relay: _Relay | None = None,
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # Whether the child had exited before this select: if so, all it wrote (its finish
        # on the channel, its result) is in the buffers now, and a select that finds
        # nothing more means everything was read. An exit seen only after the select
        # says nothing about what arrived in between.
        exited = watch.exited
        watched: list[Any] = [read_fd] if inbox.closed else [read_fd, inbox.fd]
        wakeup = 0.0 if exited else watch.next_wakeup()
        if relay is not None and relay.open:
            watched.append(relay)
            wakeup = max(0.0, min(wakeup, relay.next_beat - time.monotonic()))
        ready, _, _ = select.select(watched, [], [], wakeup)
        if relay is not None:
            if relay in ready:
                relay.pump()
            relay.heartbeat_due(time.monotonic())
        if read_fd in ready:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size <= RESULT_LIMIT:
                chunks.append(chunk)
        if inbox.fd in ready:
            inbox.fill()
            for message in inbox.pop_messages():
                if message.get("ti_id") != ti_id:
                    continue  # about a try that already finished
                if message.get("op") == "reply" and relay is not None:
                    relay.on_reply(message.get("reply") or {}, watch, grace)
                elif message.get("op") == "terminate":
                    watch.stop(
                        str(message.get("reason") or "terminated"), message.get("grace", grace)
                    )
            if inbox.closed:
                watch.stop("the executor stopped", 0.0)
        if exited and not ready:
            return b"".join(chunks)
        watch.tick(grace)


class _PreloadTimeout(Exception):
    pass


#: (path, mtime_ns, size) of DAG files whose import failed or hung in this worker.
_UNLOADABLE: set[tuple[str, int, int]] = set()


def _raise_preload_timeout(signum: int, frame: Any) -> None:
    raise _PreloadTimeout("importing the DAG file took too long")


def _preload(fileloc: str, timeout: float) -> None:
    """Import the DAG file here, once, so the children inherit it (see the module doc)."""
    from pathlib import Path

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
    gc.freeze()  # the DAG's objects too: children never copy their pages


def _log_path(request: dict[str, Any]) -> str:
    from airflow_sc.task_runner.supervisor import TaskRequest

    return str(TaskRequest.from_json(request).log_path())


def _note_in_log(path: str, text: str) -> None:
    """A line in the try's log from outside the task (why it was stopped)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as log:
        log.write(f"[{stamp}] {{executor}} WARNING - {text}\n")


def _die_with_parent() -> None:
    """SIGKILL this process if the worker dies (Linux; the executor then kills the group)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child(
    request: dict[str, Any], write_fd: int, protocol: IO[str], channel_fd: int | None
) -> None:
    code = 1
    try:
        os.setsid()
        # Safe here (unlike in a trio process): this worker is single-threaded and forks
        # directly, so the "parent" is the worker itself.
        _die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.close(protocol.fileno())
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        from airflow_sc.task_runner.supervisor import TaskRequest, report_to_fd, run_try

        task_request = TaskRequest.from_json(request)
        connect = None
        if channel_fd is not None:
            from airflow_sc.executors._channel import ChannelClient

            def connect(masker: Any) -> Any:
                return ChannelClient(
                    channel_fd, ti_id=task_request.ti_id, token=task_request.token, masker=masker
                )

        run_try(task_request, report_to_fd(write_fd), connect)
        code = 0
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


if __name__ == "__main__":
    sys.exit(main())
