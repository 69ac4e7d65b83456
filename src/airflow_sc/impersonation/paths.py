"""Which directories a task process needs, and which of their ancestors a user cannot
pass (pure: the file system comes in as a `Lookup`).

A task process imports modules lazily (the standard library, site-packages, modules next
to its DAG file), may start its interpreter again (``sys.executable``) and read files of
its DAG folder. When one of those paths lies under a directory its user may not search
(``/root`` holding the interpreter, a 0700 ``AIRFLOW_SC_HOME`` holding the dags folder),
the task's own mount namespace covers that directory with an empty one and puts back
only the needed subtrees (`mounts`). The user then sees what it could see before, plus
those subtrees with their own modes; what else the covered directory held (key files, the
database) stays out of sight. `plan_covers` says what to cover, one level at a time: a
needed path may need covers at several depths, found pass after pass.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Cover", "Entry", "Lookup", "can_search", "first_blocked", "needed_paths", "plan_covers"]


@dataclass(frozen=True, slots=True)
class Entry:
    """What permission checks need of a file: its mode, owner and group."""

    mode: int
    uid: int
    gid: int


#: The entry at an absolute path without symbolic links, None when nothing is there.
Lookup = Callable[[str], "Entry | None"]


@dataclass(frozen=True, slots=True)
class Cover:
    """Cover directory `blocked` with an empty directory and put `exposed` back under it."""

    blocked: str
    exposed: tuple[str, ...]


def can_search(entry: Entry, uid: int, gids: Iterable[int]) -> bool:
    """Whether `uid` (in groups `gids`) may pass through the directory `entry` (x bit)."""
    if uid == 0:
        return True
    if entry.uid == uid:
        bits = entry.mode >> 6
    elif entry.gid in set(gids):
        bits = entry.mode >> 3
    else:
        bits = entry.mode
    return bool(bits & 1)


def _ancestors(path: str) -> list[str]:
    """The strict ancestors of absolute `path`, from ``/`` down."""
    found = []
    parent = posixpath.dirname(path)
    while True:
        found.append(parent)
        if parent == "/":
            break
        parent = posixpath.dirname(parent)
    return found[::-1]


def first_blocked(path: str, uid: int, gids: Iterable[int], lookup: Lookup) -> str | None:
    """The highest strict ancestor of `path` that `uid` may not search, if any."""
    groups = set(gids)
    for ancestor in _ancestors(path):
        entry = lookup(ancestor)
        if entry is None:
            return None
        if not can_search(entry, uid, groups):
            return ancestor
    return None


def _under(path: str, directory: str) -> bool:
    return path != directory and path.startswith(directory.rstrip("/") + "/")


def plan_covers(
    needed: Iterable[str], uid: int, gids: Iterable[int], lookup: Lookup
) -> tuple[Cover, ...]:
    """One pass: the directories to cover now and what to put back under each.

    Paths that do not exist are left out. A path whose own mode keeps the user out comes
    back with that mode (covering never grants access). The covered directories of one pass are
    never nested (each is the first blocked directory of the paths under it), and a needed
    path under another needed path of the same cover comes back with it.
    """
    groups = set(gids)
    by_cover: dict[str, list[str]] = {}
    for path in sorted({posixpath.normpath(p) for p in needed if posixpath.isabs(p)}):
        if path == "/" or lookup(path) is None:
            continue
        blocked = first_blocked(path, uid, groups, lookup)
        if blocked is not None:
            by_cover.setdefault(blocked, []).append(path)
    return tuple(
        Cover(blocked, tuple(p for p in paths if not any(_under(p, q) for q in paths)))
        for blocked, paths in sorted(by_cover.items())
    )


def needed_paths(
    *,
    sys_path: Iterable[str],
    prefixes: Iterable[str],
    executables: Iterable[str],
    folders: Iterable[str],
) -> list[str]:
    """What a task process needs to reach: its import path, its interpreter's prefixes
    (the standard library, the virtualenv), the directories of its interpreter and the
    dags and plugins folders. Absolute, normalized paths; relative entries left out."""
    found: list[str] = []
    for path in (*sys_path, *prefixes, *(posixpath.dirname(e) for e in executables), *folders):
        if path and posixpath.isabs(path):
            normal = posixpath.normpath(path)
            if normal not in found:
                found.append(normal)
    return found
