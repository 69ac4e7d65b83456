"""One forked child, from the zygote's side: fork it isolated, watch it, stop it, kill its
group, and describe its end once everything it wrote was read.

The child gets its own session (so its whole process group, grandchildren included, is
signalled on a timeout or a stop and killed once it ended), dies with the zygote
(``PR_SET_PDEATHSIG``), runs under its address-space limit, with stdin on /dev/null. Its
result travels on a private pipe and its calls on a socket (its channel). The zygote owns
the child's pid until it reaps it, so a signal never reaches a reused pid.

The one ordering rule: the end of a child is described only after everything it wrote
before exiting was read. The exit is watched on a pidfd among the other descriptors; an
exit seen by one `select` is acted on only after a next `select` found nothing more to
read from the child (whatever it wrote before exiting is in the buffers by then). An exit
noticed between two selects proves nothing about what arrived meanwhile.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from airflow_sc.children.exits import OUT_OF_MEMORY_EXIT, ChildExit, Ending
from airflow_sc.children.inbox import Inbox
from airflow_sc.children.messages import (
    Call,
    Exited,
    Fork,
    Forked,
    FromZygote,
    Reply,
    Stop,
)
from airflow_sc.children.program import CallRelay, ChildProgram

__all__ = ["run_child"]

#: Seconds between exit checks where there is no pidfd (not Linux): nothing else may
#: wake the zygote when a grandchild holds the child's pipes open.
_POLL = 0.5
_PR_SET_PDEATHSIG = 1
_CHUNK = 1 << 20

Send = Callable[[FromZygote], None]


def run_child(
    program: ChildProgram, fork: Fork, inbox: Inbox, send: Send, *, protocol_fd: int
) -> None:
    """Fork a child for `fork`, watch it until it ended, reap it and send `Exited`.

    `inbox` brings the parent's messages (`Stop`, `Reply`), `send` sends the zygote's
    on its protocol channel `protocol_fd` (which the child closes).
    """
    started = time.monotonic()
    watch = _Watch(program, fork, started)
    relay = program.relay(fork, watch) if fork.channel else None
    ours: socket.socket | None = None
    theirs: socket.socket | None = None
    if fork.channel:
        ours, theirs = socket.socketpair()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        if ours is not None:
            os.close(ours.detach())
        channel_fd = theirs.detach() if theirs is not None else None
        _become_child(program, fork, write_fd, channel_fd, protocol_fd)
    os.close(write_fd)
    if theirs is not None:
        theirs.close()
    watch.pid = pid
    pidfd = _open_pidfd(pid)
    send(Forked(fork.job, pid))
    channel = _Channel(ours, fork.job, relay, send) if ours is not None else None
    try:
        result, oversized = _collect(read_fd, pidfd, channel, inbox, watch, send)
    finally:
        os.close(read_fd)
        if pidfd is not None:
            os.close(pidfd)
        if channel is not None:
            channel.sock.close()
    _kill_group(pid, signal.SIGKILL)  # grandchildren the child left behind
    _, status = os.waitpid(pid, 0)
    end = ChildExit.from_wait_status(
        status,
        ending=watch.ending,
        reason=watch.reason,
        max_memory=fork.max_memory,
        duration=time.monotonic() - started,
    )
    decoded = None
    if result:
        with contextlib.suppress(ValueError):
            decoded = json.loads(result)
    send(Exited(fork.job, end, decoded, oversized))


def _collect(
    read_fd: int,
    pidfd: int | None,
    channel: _Channel | None,
    inbox: Inbox,
    watch: _Watch,
    send: Send,
) -> tuple[bytes, bool]:
    """Read the child's result and relay its calls until it exited and all was read."""
    chunks: list[bytes] = []
    size = 0
    result_open = True
    exited = False
    while True:
        exited_before = exited  # see the module's docstring: the ordering rule
        watched: list[Any] = []
        if result_open:
            watched.append(read_fd)
        if channel is not None and channel.open:
            watched.append(channel)
        if not inbox.closed:
            watched.append(inbox.fd)
        if pidfd is not None and not exited:
            watched.append(pidfd)
        wakeup = 0.0 if exited_before else watch.next_wakeup(channel, polling=pidfd is None)
        ready, _, _ = select.select(watched, [], [], wakeup)
        if channel is not None and channel in ready:
            channel.pump()
        if read_fd in ready:
            chunk = os.read(read_fd, _CHUNK)
            if not chunk:
                result_open = False
            size += len(chunk)
            if size <= watch.fork.result_limit:
                chunks.append(chunk)
        if inbox.fd in ready:
            inbox.fill()
            for message in inbox.pop_messages():
                if getattr(message, "job", None) != watch.fork.job:
                    continue  # about a child that already ended
                if isinstance(message, Stop):
                    watch.stop(message)
                elif isinstance(message, Reply) and channel is not None:
                    channel.answer(message.reply, watch)
            if inbox.closed:  # the parent went away: nothing outlives it
                watch.stop(Stop(watch.fork.job, "the parent process stopped", 0.0))
        if exited_before and read_fd not in ready and (channel is None or channel not in ready):
            oversized = size > watch.fork.result_limit
            return (b"" if oversized else b"".join(chunks)), oversized
        exited = (exited or pidfd in ready) if pidfd is not None else watch.poll_exit()
        now = time.monotonic()
        watch.tick(now)
        if channel is not None:
            channel.timer(now)


class _Watch:
    """The deadlines of one child (its timeout, then SIGKILL after the grace), and how
    it was stopped. Also the `ChildControl` its relay gets."""

    def __init__(self, program: ChildProgram, fork: Fork, started: float) -> None:
        self.program = program
        self.fork = fork
        self.pid = 0
        self.deadline = started + fork.timeout if fork.timeout is not None else None
        self.kill_at: float | None = None
        self.ending = Ending.ON_ITS_OWN
        self.reason: str | None = None

    def stop(self, stop: Stop, ending: Ending = Ending.STOPPED) -> None:
        """SIGTERM the group now, SIGKILL after the grace (the first reason stays)."""
        if stop.reason is None:
            self.revoke(stop.note or "", stop.grace)
            return
        if self.reason is None:
            self.ending, self.reason = ending, stop.reason
            self.note(f"Stopping the {self.fork.name}: {stop.reason}")
        self._terminate(stop.grace)

    def revoke(self, note: str, grace: float) -> None:
        if note:
            self.note(note)
        self._terminate(grace)

    def note(self, text: str) -> None:
        self.program.note(self.fork, text)

    def _terminate(self, grace: float) -> None:
        if grace <= 0:
            _kill_group(self.pid, signal.SIGKILL)
            self.kill_at = None
            return
        kill_at = time.monotonic() + grace
        if self.kill_at is None:
            _kill_group(self.pid, signal.SIGTERM)
            self.kill_at = kill_at
        else:
            self.kill_at = min(self.kill_at, kill_at)

    def next_wakeup(self, channel: _Channel | None, *, polling: bool) -> float | None:
        now = time.monotonic()
        times = [t for t in (self.deadline, self.kill_at) if t is not None]
        if polling:
            times.append(now + _POLL)
        if channel is not None and (due := channel.next_due()) is not None:
            times.append(due)
        return max(0.0, min(times) - now) if times else None

    def tick(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            timeout = self.fork.timeout or 0.0
            reason = self.fork.timeout_reason or f"timed out after {timeout:g}s"
            self.stop(Stop(self.fork.job, reason, self.fork.grace), Ending.TIMED_OUT)
        if self.kill_at is not None and now >= self.kill_at:
            self.note(f"The {self.fork.name} did not stop after SIGTERM: killing it")
            _kill_group(self.pid, signal.SIGKILL)
            self.kill_at = None

    def poll_exit(self) -> bool:
        """Whether the child exited (without reaping it: the pid stays ours)."""
        with contextlib.suppress(ChildProcessError):
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            return os.waitid(os.P_PID, self.pid, flags) is not None
        return True


class _Channel:
    """The zygote's end of a child's channel: calls go up as `Call`, replies come down."""

    def __init__(self, sock: socket.socket, job: str, relay: CallRelay | None, send: Send) -> None:
        self.sock = sock
        self.job = job
        self.relay = relay
        self.send = send
        self.open = True
        self._buffer = b""

    def fileno(self) -> int:
        return self.sock.fileno()

    def pump(self) -> None:
        """Relay what the child wrote (whole lines) to the parent."""
        try:
            chunk = self.sock.recv(_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            self.open = False
            return
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                call = json.loads(line)
            except RecursionError:
                detail = "the call is nested too deeply to be read"
                self._to_child({"id": None, "status": 400, "detail": detail})
                continue
            except ValueError:
                self._to_child({"id": None, "status": 400, "detail": "the call is not JSON"})
                continue
            if not isinstance(call, dict):
                self._to_child({"id": None, "status": 400, "detail": "the call is not an object"})
                continue
            if self.relay is not None:
                call = self.relay.outgoing(call)
            self.send(Call(self.job, call))

    def answer(self, reply: dict[str, Any], watch: _Watch) -> None:
        if self.relay is not None:
            passed = self.relay.incoming(reply)
            if passed is None:
                return
            reply = passed
        self._to_child(reply)

    def next_due(self) -> float | None:
        if self.relay is None or not self.open:
            return None
        return self.relay.next_due()

    def timer(self, now: float) -> None:
        if self.relay is not None and self.open and (call := self.relay.due(now)) is not None:
            self.send(Call(self.job, call))

    def _to_child(self, reply: dict[str, Any]) -> None:
        """Hand a reply to the child (gone already: nobody to tell)."""
        with contextlib.suppress(OSError):
            self.sock.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")


def _become_child(
    program: ChildProgram, fork: Fork, write_fd: int, channel_fd: int | None, protocol_fd: int
) -> None:
    """The forked child: isolate it, run the program, exit. Never returns."""
    code = 1
    try:
        os.setsid()
        _die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.close(protocol_fd)
        if fork.max_memory > 0:
            resource.setrlimit(resource.RLIMIT_AS, (fork.max_memory, fork.max_memory))
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        if fork.quiet:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
        os.close(devnull)
        program.run(fork, write_fd, channel_fd)
        code = 0
    except MemoryError:
        code = OUT_OF_MEMORY_EXIT
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """SIGKILL this process when the zygote dies (Linux; elsewhere, nothing)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that turns readable when `pid` exits (None where there is none)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
