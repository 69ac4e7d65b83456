"""What a server process does to keep its secrets from other processes.

- `private_folder`: AIRFLOW_SC_HOME and the log folder are mode 0700, so other OS users
  reach none of the files under them (keys, the admin password, the SQLite database,
  logs, the wake-up socket), whatever those files' own modes.
- `make_non_dumpable`: the process (and what it forks) cannot be inspected by other
  processes of the same OS user: its `/proc/<pid>/environ`, `mem` and `fd` links belong
  to root, and ptrace is refused. Linux only; elsewhere it does nothing.

docs/security.md states what this guarantees and what it does not.
"""

from __future__ import annotations

import ctypes
import logging
import os
import stat
import sys
from pathlib import Path

__all__ = ["is_dumpable", "make_non_dumpable", "private_folder"]

log = logging.getLogger(__name__)

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def private_folder(path: Path) -> None:
    """Create `path` (and its parents) with mode 0700, or take group and other access
    away from an existing folder of this user."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        path.chmod(stat.S_IMODE(st.st_mode) & 0o700)
        log.info("made %s private to its owner (mode 0700)", path)


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result = int(libc.prctl(option, value, 0, 0, 0))
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def make_non_dumpable() -> bool:
    """Mark this process not dumpable; False where the platform has no such flag."""
    if not sys.platform.startswith("linux"):
        return False
    _prctl(_PR_SET_DUMPABLE, 0)
    return True


def is_dumpable() -> bool:
    """Whether other processes of this OS user may inspect this one (True off Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(_prctl(_PR_GET_DUMPABLE))
