"""Child programs for tests/runtime/test_children.py (imported by the zygotes they start).

`SCRIPT` runs the steps a job's payload lists, in order; `RACE` lets its child finish and
exit while the zygote is between two selects (see `RaceRelay`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time
from typing import Any

from airflow_sc.children import CallRelay, ChildControl, Fork


class ScriptProgram:
    """Each payload step is ``[what, argument]``; the result is what the steps collected."""

    def warm_up(self, args: list[str]) -> None:
        self.args = args

    def prepare(self, fork: Fork) -> None:
        pass

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay | None:
        return None

    def note(self, fork: Fork, text: str) -> None:
        notes = fork.payload.get("notes")
        if notes:
            with open(notes, "a", encoding="utf-8") as out:
                out.write(text + "\n")

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        collected: dict[str, Any] = {"args": self.args}
        channel = socket.socket(fileno=channel_fd) if channel_fd is not None else None
        for what, argument in fork.payload["steps"]:
            if what == "result":
                collected.update(argument)
            elif what in ("call", "call_raw"):
                assert channel is not None
                line = argument if what == "call_raw" else json.dumps(argument)
                channel.sendall(line.encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    reply += channel.recv(65536)
                collected.setdefault("replies", []).append(json.loads(reply))
            elif what == "write":
                os.write(result_fd, json.dumps(collected).encode())
                os.close(result_fd)
            elif what == "grandchild":
                pid = os.fork()
                if pid == 0:
                    select.select([], [], [])  # until killed
                collected["grandchild"] = pid
            elif what == "ignore_sigterm":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            elif what == "touch":
                with open(argument, "w", encoding="utf-8") as out:
                    out.write(str(os.getpid()))
            elif what == "hang":
                select.select([], [], [])
            elif what == "exit":
                os._exit(argument)
            elif what == "kill":
                os.kill(os.getpid(), argument)
            elif what == "allocate":
                collected["blob"] = len(bytearray(argument))
            elif what == "raise":
                raise RuntimeError(argument)


class RaceRelay:
    """Releases its child from the zygote's timer, then waits there until the child exited.

    The child then writes its call and its result and exits while the zygote is between
    two selects: exactly the moment at which an exit must not be acted on yet.
    """

    def __init__(self, release: int) -> None:
        self.release = release
        self.released = False

    def outgoing(self, call: dict[str, Any]) -> dict[str, Any]:
        return call

    def incoming(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        return reply

    def next_due(self) -> float | None:
        return None if self.released else time.monotonic()

    def due(self, now: float) -> dict[str, Any] | None:
        if not self.released:
            self.released = True
            os.write(self.release, b"go")
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)  # the child exited (not reaped)
        return None


class RaceProgram(ScriptProgram):
    def prepare(self, fork: Fork) -> None:
        self.wait_for, self.release = os.pipe()

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay | None:
        return RaceRelay(self.release)

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        os.read(self.wait_for, 2)
        assert channel_fd is not None
        socket.socket(fileno=channel_fd).sendall(b'{"id": 1, "op": "finish"}\n')
        os.write(result_fd, b'{"finished": true}')


SCRIPT = ScriptProgram()
RACE = RaceProgram()
