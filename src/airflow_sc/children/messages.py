"""The typed messages between a parent and its zygote: one JSON object per line.

Parent -> zygote (the zygote's stdin): `Fork` a child for a job, `Stop` it, `Reply` to
its call. Zygote -> parent (the zygote's protocol channel, its original stdout): `Ready`
once warm, `Forked`, `Call` (a call the child wrote on its channel), `Exited`. Every
message but `Ready` names its job; a message about a job that already ended is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow_sc.children.exits import ChildExit

__all__ = [
    "Call",
    "Exited",
    "Fork",
    "Forked",
    "FromZygote",
    "Ready",
    "Reply",
    "Stop",
    "ToZygote",
    "decode",
    "encode",
]


@dataclass(frozen=True, slots=True)
class Fork:
    """Run `payload` in a fresh child (the zygote's program says what it means)."""

    job: str
    payload: dict[str, Any]
    #: Seconds before the child is stopped as timed out (None: no limit).
    timeout: float | None = None
    #: The reason a timed-out child ends with (default: "timed out after <timeout>s").
    timeout_reason: str | None = None
    #: What the program's notes call the child ("Stopping the task: ...").
    name: str = "child"
    #: Seconds between SIGTERM and SIGKILL when the child is stopped (0: SIGKILL at once).
    grace: float = 10.0
    #: The child's address-space limit in bytes (0: none).
    max_memory: int = 0
    #: Open a channel: the child's calls come up as `Call`, `Reply` answers them.
    channel: bool = False
    #: The child's stdout and stderr go to /dev/null (else it inherits the zygote's).
    quiet: bool = False
    #: Bytes of result accepted; a larger result is dropped (`Exited.oversized`).
    result_limit: int = 16 * 1024 * 1024
    kind: str = field(default="fork", init=False)


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the job's child: SIGTERM to its group, SIGKILL after `grace`.

    With a `reason` the child ends as stopped for that reason (the first reason stays);
    without one it is only signalled, and ends as the signal makes it end.
    """

    job: str
    reason: str | None
    grace: float
    #: A line for the program's notes (the try's log) when there is no reason.
    note: str | None = None
    kind: str = field(default="stop", init=False)


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the child's last `Call`."""

    job: str
    reply: dict[str, Any]
    kind: str = field(default="reply", init=False)


@dataclass(frozen=True, slots=True)
class Ready:
    """The zygote is warm and takes `Fork`s."""

    pid: int
    kind: str = field(default="ready", init=False)


@dataclass(frozen=True, slots=True)
class Forked:
    """The job's child runs as `pid` (also its process group)."""

    job: str
    pid: int
    kind: str = field(default="forked", init=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A call the job's child wrote on its channel (or its zygote made for it)."""

    job: str
    call: dict[str, Any]
    kind: str = field(default="call", init=False)


@dataclass(frozen=True, slots=True)
class Exited:
    """The job's child ended; everything it wrote before was sent first."""

    job: str
    exit: ChildExit
    #: What the child wrote on its result pipe (None: nothing, or not JSON).
    result: Any = None
    #: The result was larger than the fork's `result_limit` and was dropped.
    oversized: bool = False
    kind: str = field(default="exited", init=False)


ToZygote = Fork | Stop | Reply
FromZygote = Ready | Forked | Call | Exited

_PLAIN: dict[str, type[Any]] = {
    "fork": Fork,
    "stop": Stop,
    "reply": Reply,
    "ready": Ready,
    "forked": Forked,
    "call": Call,
}


def encode(message: ToZygote | FromZygote) -> bytes:
    """One message as a line."""
    if isinstance(message, Exited):
        data: dict[str, Any] = {
            "kind": message.kind,
            "job": message.job,
            "exit": message.exit.to_json(),
            "result": message.result,
            "oversized": message.oversized,
        }
    else:
        data = {name: getattr(message, name) for name in message.__slots__}
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> ToZygote | FromZygote:
    """The message on `line`; ValueError when it is none."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError(f"not a message: {line[:200]!r}")
    kind = data.pop("kind", None)
    if kind == "exited":
        return Exited(
            job=str(data["job"]),
            exit=ChildExit.from_json(data["exit"]),
            result=data.get("result"),
            oversized=bool(data.get("oversized")),
        )
    cls = _PLAIN.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown message kind {kind!r}")
    message: ToZygote | FromZygote = cls(**data)
    return message
