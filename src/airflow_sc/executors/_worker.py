"""A warm worker process of the local executor: forks one isolated child per try.

Run as ``python -m airflow_sc.executors._worker``. It imports the SDK, the task runner and
the HTTP client once, then reads JSON lines on stdin:

- ``{"op": "run", "request": {...TaskRequest...}, "timeout": s|null, "grace": s}``
- ``{"op": "terminate", "ti_id": ..., "reason": ..., "grace": s}``

and answers JSON lines on its protocol channel (the original stdout):
``{"event": "ready"}``, ``{"event": "started", "ti_id", "pid"}``,
``{"event": "finished", "ti_id", "report": {...}|null, "exit": "...", "reason": ...}``.

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
import sys
import time
import traceback
from typing import IO, Any

RESULT_LIMIT = 16 * 1024 * 1024
_PR_SET_PDEATHSIG = 1
#: Seconds between checks that the child is still alive while nothing else happens (a
#: grandchild in another session may hold the result pipe open after the child died).
_POLL = 0.5


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
    from airflow_sc.task_runner import supervisor

    supervisor.warm_up()
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
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        _child(request, write_fd, protocol)
    os.close(write_fd)
    _send(protocol, {"event": "started", "ti_id": ti_id, "pid": pid})
    watch = _Watch(pid, time.monotonic(), timeout, _log_path(request))
    data = _collect(read_fd, inbox, watch, ti_id, float(message.get("grace", 10.0)))
    os.close(read_fd)
    _kill_group(pid, signal.SIGKILL)  # grandchildren the task left behind
    _, status = os.waitpid(pid, 0)
    report = None
    if data:
        with contextlib.suppress(ValueError):
            report = json.loads(data)
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


def _collect(read_fd: int, inbox: _Inbox, watch: _Watch, ti_id: str, grace: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        watched = [read_fd] if inbox.closed else [read_fd, inbox.fd]
        ready, _, _ = select.select(watched, [], [], watch.next_wakeup())
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
                if message.get("op") == "terminate" and message.get("ti_id") == ti_id:
                    watch.stop(
                        str(message.get("reason") or "terminated"), message.get("grace", grace)
                    )
            if inbox.closed:
                watch.stop("the executor stopped", 0.0)
        watch.tick(grace)
        if watch.exited and not ready:
            return b"".join(chunks)


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


def _child(request: dict[str, Any], write_fd: int, protocol: IO[str]) -> None:
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

        run_try(TaskRequest.from_json(request), report_to_fd(write_fd))
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
