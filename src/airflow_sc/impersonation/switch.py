"""What a task process does, as root, to become the OS user it runs as.

`become(name, folders=..., scratch=...)`, once, single-threaded, after the process
opened what it keeps (its log file, its channel) and imported its DAG file:

1. when a directory the task needs lies under one its user may not search, the process
   takes a mount namespace of its own and covers those directories (`paths`, `mounts`);
   when nothing is blocked, no namespace is made (nothing to hide that the user could
   reach: the server's files are 0600 in a 0700 home);
2. ``setgroups`` (the user's groups), ``setresgid``, ``setresuid``: real, effective and
   saved ids, so there is no way back;
3. the parent-death signal again (changing credentials clears it), ``HOME`` (the user's
   home when it exists, else the scratch directory), ``USER``, ``LOGNAME``, ``TMPDIR`` and
   the working directory (a scratch directory of the try's own, owned by the user).

The process is left non-dumpable: other processes of the same user (other tasks) cannot
read its memory or its token, nor attach a debugger to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_sc.impersonation.accounts import lookup_user
from airflow_sc.impersonation.mounts import cover, private_namespace
from airflow_sc.impersonation.paths import Cover, Entry, first_blocked, needed_paths, plan_covers
from airflow_sc.impersonation.policy import ImpersonationError

__all__ = ["Switched", "become", "prepare"]

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
#: Passes of covers before giving up (each pass goes one blocked level deeper).
_MAX_PASSES = 32


@dataclass(frozen=True, slots=True)
class Switched:
    """The user a process became, the directories covered, and the seconds it took."""

    user: str
    uid: int
    covered: tuple[str, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What `become` needs for one user that does not change from try to try."""

    account: pwd.struct_passwd
    gids: list[int]
    needed: list[str]
    #: The first pass of covers, as planned before the fork.
    covers: tuple[Cover, ...]


_Key = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
#: Prepared switches by (user name, folders, own folders, import path), kept by a warm
#: worker for the children it forks (see `prepare`).
_PREPARED: dict[_Key, _Prepared] = {}


def prepare(name: str, *, folders: Sequence[str] = (), own: Sequence[str] = ()) -> None:
    """Look up `name`, its groups and what its tasks need, once, in a process that forks
    the tasks (a warm worker, as root): each child's `become` then only applies it. The
    first pass of covers is planned here too; the child checks the rest itself."""
    key = (name, tuple(folders), tuple(own), tuple(sys.path))
    if key not in _PREPARED:
        with contextlib.suppress(ImpersonationError):  # else the child says why
            _PREPARED[key] = _prepare(name, folders, own)


def _prepare(name: str, folders: Sequence[str], own: Sequence[str]) -> _Prepared:
    account = lookup_user(name)
    gids = os.getgrouplist(account.pw_name, account.pw_gid)
    if account.pw_uid != os.geteuid():
        _give(own, account)
    needed = _needed([*folders, *own])
    return _Prepared(account, gids, needed, plan_covers(needed, account.pw_uid, gids, _lookup))


def _prepared(name: str, folders: Sequence[str], own: Sequence[str]) -> _Prepared:
    found = _PREPARED.get((name, tuple(folders), tuple(own), tuple(sys.path)))
    return found if found is not None else _prepare(name, folders, own)


def _give(folders: Sequence[str], account: pwd.struct_passwd) -> None:
    """Make `folders` (as root) and give them to `account`, mode 0700."""
    for folder in folders:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise ImpersonationError(f"{folder} is not a directory")
        os.chown(folder, account.pw_uid, account.pw_gid, follow_symlinks=False)


def _lookup(path: str) -> Entry | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return Entry(status.st_mode, status.st_uid, status.st_gid)


def _needed(folders: Sequence[str]) -> list[str]:
    paths = needed_paths(
        sys_path=sys.path,
        prefixes=(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix),
        executables=(sys.executable, os.path.realpath(sys.executable)),
        folders=folders,
    )
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))


def become(
    name: str,
    *,
    folders: Sequence[str] = (),
    scratch: str | None = None,
    own: Sequence[str] = (),
) -> Switched | None:
    """Become OS user `name` for good (see the module doc); None when this process runs
    as that user already. Raises `ImpersonationError` with the reason when it cannot.

    `folders` are put within the user's reach (their own modes apply); `own` are made
    (when missing) and given to the user, mode 0700, and put within its reach too: a cache
    of its own that lasts from try to try."""
    started = time.perf_counter()
    euid = os.geteuid()
    if euid != 0:
        account = lookup_user(name)
        if account.pw_uid == euid:
            return None
        raise ImpersonationError(
            f"the task should run as the OS user {name!r}, but the server runs as "
            f"{_name_of(euid)!r}, not root, and cannot switch users"
        )
    prepared = _prepared(name, folders, own)
    account, gids = prepared.account, prepared.gids
    if account.pw_uid == euid:
        return None
    uid, gid = account.pw_uid, account.pw_gid
    needed = prepared.needed
    covers = prepared.covers
    if scratch:
        needed = [*needed, os.path.realpath(scratch)]
        covers = plan_covers(needed, uid, gids, _lookup) if _blocked(scratch, uid, gids) else covers
    covered: list[str] = []
    if covers:
        private_namespace()
    passes = 0
    while covers:
        passes += 1
        if passes > _MAX_PASSES:
            raise ImpersonationError("the task's view of the file system does not settle")
        for plan in covers:
            cover(plan)
            covered.append(plan.blocked)
        covers = plan_covers(needed, uid, gids, _lookup)
    home = account.pw_dir if account.pw_dir and os.path.isdir(account.pw_dir) else None
    if scratch:
        os.chown(scratch, uid, gid)
    parent = os.getppid()
    os.setgroups(gids)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _stay_private(parent)
    os.environ.update(HOME=home or scratch or "/", USER=account.pw_name, LOGNAME=account.pw_name)
    if scratch:
        os.environ["TMPDIR"] = scratch
        tempfile.tempdir = None  # computed again from TMPDIR
    os.chdir(scratch or home or "/")
    return Switched(account.pw_name, uid, tuple(covered), time.perf_counter() - started)


def _blocked(path: str, uid: int, gids: Sequence[int]) -> bool:
    return first_blocked(os.path.realpath(path), uid, gids, _lookup) is not None


def _stay_private(parent: int) -> None:
    """Non-dumpable whatever ``fs.suid_dumpable`` says, and SIGKILLed when `parent` (the
    worker) dies, as before the switch (changing credentials clears the latter)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_DUMPABLE, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died meanwhile
        os._exit(1)


def _name_of(uid: int) -> str:
    try:
        return lookup_user(str(uid)).pw_name
    except ImpersonationError:
        return str(uid)
