"""OS users: look one up, create the dedicated system user tasks run as under root."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess

from airflow_sc.impersonation.policy import ImpersonationError

__all__ = ["ensure_root_user", "ensure_system_user", "lookup_user"]

log = logging.getLogger(__name__)


def lookup_user(name: str) -> pwd.struct_passwd:
    """The passwd entry of user `name` (a name or a numeric uid)."""
    try:
        if name.isdigit():
            return pwd.getpwuid(int(name))
        return pwd.getpwnam(name)
    except KeyError:
        raise ImpersonationError(f"there is no OS user {name!r}") from None


def ensure_system_user(name: str) -> bool:
    """Make sure user `name` exists, creating it as an unprivileged system user (no home,
    no login shell) when it does not; True when it was created. Needs root."""
    try:
        lookup_user(name)
        return False
    except ImpersonationError:
        pass
    if os.geteuid() != 0:
        raise ImpersonationError(f"there is no OS user {name!r}, and only root can create it")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    shell = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
    command = [useradd, "--system", "--no-create-home", "--shell", shell, name]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        try:
            lookup_user(name)  # created meanwhile by another process
            return False
        except ImpersonationError:
            pass
        reason = done.stderr.strip() or f"exit code {done.returncode}"
        raise ImpersonationError(f"could not create the OS user {name!r}: {reason}")
    log.warning("Created the system user %r: tasks run as this user", name)
    return True


def ensure_root_user(default_user: str, root_user: str) -> None:
    """Create the user tasks (and DAG parsing) run as under root (`core.root_impersonation`)
    when it is missing and will be used; when it cannot be, say so (what needs it fails,
    saying so too)."""
    if os.geteuid() != 0 or default_user or not root_user:
        return
    try:
        ensure_system_user(root_user)
    except ImpersonationError as exc:
        log.error("Tasks and DAG parsing cannot run as %r: %s", root_user, exc)
