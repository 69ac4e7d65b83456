"""Child processes: a warm zygote that forks one isolated child per job.

Shared by DAG parsing and the local executor. The parent (async code) starts a zygote
(`start_zygote`) naming a `ChildProgram`; the zygote imports what every child needs once,
then for each `Fork` forks a child in its own session under its limits (`child.py`),
relays the child's calls (`Call` up, `Reply` down), stops it on its timeout or a `Stop`
(SIGTERM to the group, SIGKILL after the grace), kills the whole group once it ended, and
answers `Exited` with its result and a `ChildExit` saying how it ended: exit code or
signal, on its own, timed out, stopped, or out of memory. `Exited` always follows
everything the child wrote before it exited.

The parent's side is `airflow_sc.children.parent` (`start_zygote`, `Zygote`),
imported from there: this package and the zygote's modules import no event loop, so a
zygote (and every child it forks) stays as small as its program makes it.
"""

from airflow_sc.children.exits import OUT_OF_MEMORY_EXIT, ChildExit, Ending
from airflow_sc.children.messages import (
    Call,
    Exited,
    Fork,
    Forked,
    FromZygote,
    Ready,
    Reply,
    Stop,
    ToZygote,
)
from airflow_sc.children.program import CallRelay, ChildControl, ChildProgram

__all__ = [
    "OUT_OF_MEMORY_EXIT",
    "Call",
    "CallRelay",
    "ChildControl",
    "ChildExit",
    "ChildProgram",
    "Ending",
    "Exited",
    "Fork",
    "Forked",
    "FromZygote",
    "Ready",
    "Reply",
    "Stop",
    "ToZygote",
]
