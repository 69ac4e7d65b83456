"""Scratch directories: a fresh one per child that switches users (its working directory
and ``TMPDIR``), made by the zygote that forks it (a task worker, a DAG parser)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

__all__ = ["SCRATCH_PREFIX", "Scratch", "sweep_scratch"]

#: The name every scratch directory starts with (then the maker's pid and a dash).
SCRATCH_PREFIX = "airflow-sc-try-"


class Scratch:
    """The scratch directory of the current child (its working directory and ``TMPDIR``
    once it switched users), removed when the next one is made and when the process exits:
    one child runs at a time, so the previous one was reaped by then. Its name carries the
    process's pid, so a process removes, once, those left by processes that were killed."""

    def __init__(self) -> None:
        self._path: str | None = None
        self._swept = False

    def fresh(self) -> str:
        self.remove()
        if not self._swept:
            self._swept = True
            sweep_scratch(tempfile.gettempdir())
        self._path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        return self._path

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None


def sweep_scratch(folder: str) -> None:
    """Remove the scratch directories of processes that no longer run."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            pid = entry.name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
            if entry.name.startswith(SCRATCH_PREFIX) and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
