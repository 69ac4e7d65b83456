"""The Linux system calls behind a task's own view of the file system (see `paths`).

`private_namespace()` gives the calling process its own mount namespace whose mounts do
not propagate to the host's; `cover(cover)` clones the subtrees to keep (``open_tree``),
mounts an empty tmpfs over the blocked directory and moves the clones back in
(``move_mount``). Mounts made here vanish with the last process of the namespace. Needs
CAP_SYS_ADMIN and a single-threaded caller (``unshare(CLONE_NEWNS)`` refuses otherwise).
"""

from __future__ import annotations

import ctypes
import os
import posixpath
import stat

from airflow_sc.impersonation.paths import Cover
from airflow_sc.impersonation.policy import ImpersonationError

__all__ = ["cover", "private_namespace"]

_CLONE_NEWNS = 0x00020000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_OPEN_TREE_CLONE = 0x1
_OPEN_TREE_CLOEXEC = os.O_CLOEXEC
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
#: The generic syscall numbers (the same on x86_64 and arm64 since Linux 5.2).
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        libc.unshare.argtypes = [ctypes.c_int]
        _libc = libc
    return _libc


def _fail(what: str) -> ImpersonationError:
    errno = ctypes.get_errno()
    return ImpersonationError(f"{what}: {os.strerror(errno)} (errno {errno})")


def private_namespace() -> None:
    """Move this process into a mount namespace of its own, propagating nothing back."""
    libc = _c()
    if libc.unshare(_CLONE_NEWNS) != 0:
        raise _fail(
            "cannot give the task a mount namespace of its own (unshare(CLONE_NEWNS) "
            "needs CAP_SYS_ADMIN, which a container may withhold, and a process that "
            "started no thread)"
        )
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise _fail("cannot make the task's mounts private")


def cover(plan: Cover) -> None:
    """Cover ``plan.blocked`` with an empty tmpfs (0755) holding only ``plan.exposed``."""
    libc = _c()
    clones: list[tuple[str, int]] = []
    try:
        for path in plan.exposed:
            fd = libc.syscall(
                _SYS_OPEN_TREE,
                ctypes.c_int(_AT_FDCWD),
                ctypes.c_char_p(os.fsencode(path)),
                ctypes.c_uint(_OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_RECURSIVE),
            )
            if fd < 0:
                raise _fail(f"cannot clone {path} for the task (open_tree)")
            clones.append((path, fd))
        target = os.fsencode(plan.blocked)
        flags = _MS_NOSUID | _MS_NODEV
        if libc.mount(b"tmpfs", target, b"tmpfs", flags, b"mode=0755,size=64k") != 0:
            raise _fail(f"cannot cover {plan.blocked} for the task (mount tmpfs)")
        previous = os.umask(0o022)
        try:
            for path, fd in clones:
                os.makedirs(posixpath.dirname(path), mode=0o755, exist_ok=True)
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    os.mkdir(path, 0o755)
                else:
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
                moved = libc.syscall(
                    _SYS_MOVE_MOUNT,
                    ctypes.c_int(fd),
                    ctypes.c_char_p(b""),
                    ctypes.c_int(_AT_FDCWD),
                    ctypes.c_char_p(os.fsencode(path)),
                    ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
                )
                if moved != 0:
                    raise _fail(f"cannot put {path} back for the task (move_mount)")
        finally:
            os.umask(previous)
    finally:
        for _, fd in clones:
            os.close(fd)
