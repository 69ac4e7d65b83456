"""Try log files for a worker that became its tries' OS user at start.

Such a worker's children cannot create files in the log folder, which belongs to the
server's user: the executor (root) gives the folder to the user's group for searching only
(mode 0710: it can reach a path it knows, never list one), and makes each try's log file,
owned by the user, mode 0600, before handing the try over. Files of other tries stay the
server's (or another user's), unreadable to it.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow_sc.impersonation.accounts import lookup_user

__all__ = ["make_log_file_for", "open_log_folder_to"]

#: The log folder: the server's own, searchable by the tries' user's group.
LOG_FOLDER_MODE = 0o710


def open_log_folder_to(folder: Path, user: str) -> None:
    """Let `user`'s group reach files in `folder` by path (not list it)."""
    account = lookup_user(user)
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, -1, account.pw_gid)
    os.chmod(folder, LOG_FOLDER_MODE)


def make_log_file_for(path: Path, user: str) -> None:
    """Make the try's log file (and its folders, searchable by all within the log folder)
    owned by `user`, mode 0600; an existing file is given to it."""
    account = lookup_user(user)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, account.pw_uid, account.pw_gid)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
