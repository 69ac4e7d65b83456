"""DAG files must not start processes at import: what a parse child does about forks.

Installed in a parse child only (`parse_program.py`), before it imports the file. Python's
fork hooks (`os.register_at_fork`) run on every fork Python makes: `os.fork`,
`os.forkpty`, `multiprocessing`'s fork start method, and `subprocess` with a
`preexec_fn`. Each process so forked exits at once, before any of the file's code runs
in it (so a child that would linger, wait or fork again never does), and the parent
counts it. The file then gets an import error naming the count instead of its DAGs.
A file that keeps forking (a fork loop) is stopped at `FORK_LIMIT` forks: the parse ends
there with the same error, so unreaped children never pile up until the timeout.

What is not counted: processes started without a Python fork (`subprocess` without
`preexec_fn` and `os.posix_spawn`, which fork and exec in C; a C extension calling
`fork()`): a command run to completion at import is allowed. What such a process leaves
running does not outlive the parse: the parse child is its descendants' subreaper
(`PR_SET_CHILD_SUBREAPER`, so a daemon that detached itself, in a session of its own,
becomes its child rather than init's) and kills every child it has once the import
returned (`end_leftovers`); the zygote kills the child's process group as before. Only a
parse cut short (its timeout, or the file calling `os._exit`) can leave a process that
left the group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "FORKED_EXIT",
    "FORK_LIMIT",
    "ForkGuard",
    "become_subreaper",
    "end_leftovers",
    "forks_message",
]

_PR_SET_CHILD_SUBREAPER = 36

#: Forks after which the parse is given up at once (a fork loop).
FORK_LIMIT = 64
#: The exit code of a process forked during a parse (it exits before running anything).
FORKED_EXIT = 70


def forks_message(path: str, forks: int, *, stopped: bool = False) -> str:
    """The import error of a file that forked `forks` processes while being parsed."""
    noun = "process" if forks == 1 else "processes"
    text = f"{path}: the DAG file forked {forks} {noun} while being parsed"
    if stopped:
        text += " and parsing was stopped there (a fork loop)"
    return (
        f"{text}; DAG files must not start processes at import "
        "(each forked process was ended as it started)"
    )


class ForkGuard:
    """Counts the parse child's forks and ends each forked process at once.

    `on_limit(forks)` is called in the parse child when `limit` forks were made; it
    should report and exit (it must not return to the file's code).
    """

    def __init__(self, on_limit: Callable[[int], None], limit: int = FORK_LIMIT) -> None:
        self.forks = 0
        self._owner = 0
        self._limit = limit
        self._on_limit = on_limit

    def install(self) -> None:
        """From now on, in this process only (hooks cannot be removed: one-shot children)."""
        self._owner = os.getpid()
        os.register_at_fork(
            after_in_child=self._after_in_child, after_in_parent=self._after_in_parent
        )

    def _after_in_child(self) -> None:
        if self._owner:
            os._exit(FORKED_EXIT)

    def _after_in_parent(self) -> None:
        if os.getpid() != self._owner:
            return
        self.forks += 1
        if self.forks >= self._limit:
            self._on_limit(self.forks)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux; else False)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    return False


def end_leftovers() -> int:
    """SIGKILL and reap every child this process has, until none is left (a killed child's
    own children come to a subreaper next); how many there were."""
    ended = 0
    for _ in range(1000):  # a bound, in case something keeps forking
        pids = _children()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            ended += 1
    return ended


def _children() -> list[int]:
    """This process's children, from /proc (every thread's list; empty elsewhere)."""
    pids: set[int] = set()
    for path in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in path.read_text().split())
    return sorted(pids)
