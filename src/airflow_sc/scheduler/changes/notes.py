"""What changed, as one process tells others: `Change`, `Note` and their wire format.

A note names what changed and, when it is about DAG runs, which ones (by `dag_run.id`).
On the wire (PostgreSQL NOTIFY payloads, the SQLite scheduler's datagram socket) it is
small JSON: ``{"o": origin, "c": [changes], "r": [run pks] | null}``; ``r`` is null when
too many runs changed to list (a receiver then looks at all of them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

__all__ = ["MAX_LISTED_RUNS", "Change", "Note", "decode_note", "encode_note"]

log = logging.getLogger(__name__)

#: Run ids listed in one note; beyond this the note says "many" and receivers sweep.
MAX_LISTED_RUNS: Final = 500


class Change(StrEnum):
    """What changed, which decides who acts on a note."""

    #: A DAG was added, changed, paused or unpaused.
    DAG_CHANGED = "dag_changed"
    #: Dag runs were created (queued).
    RUNS_CREATED = "runs_created"
    #: Dag runs or their task instances were changed by an operator (cleared, marked).
    RUNS_CHANGED = "runs_changed"
    #: Task instances of these runs finished (a try reported its end).
    TIS_FINISHED = "tis_finished"
    #: The scheduler moved these runs or their task instances along (created or started a
    #: run, scheduled, queued, ended or reset task instances, finished a run). For other
    #: subscribers (a live view): the stage that made the move already woke the next one.
    RUNS_PROGRESSED = "runs_progressed"
    #: Notes may have been lost (a listening connection dropped): anything may have changed.
    ANY = "any"


@dataclass(frozen=True, slots=True)
class Note:
    """One announcement: what changed, in which runs, from which process."""

    changes: frozenset[Change]
    #: Dag run primary keys; None means "too many to list: look at all of them".
    run_pks: frozenset[int] | None = frozenset()
    #: The announcing process (`ChangeFeed.origin`); a process skips its own notes.
    origin: str | None = None

    @classmethod
    def of(
        cls,
        changes: Iterable[Change],
        run_pks: Collection[int] | None = (),
        *,
        origin: str | None = None,
    ) -> Note:
        runs = None if run_pks is None else frozenset(run_pks)
        if runs is not None and len(runs) > MAX_LISTED_RUNS:
            runs = None
        return cls(frozenset(Change(c) for c in changes), runs, origin)


def encode_note(note: Note) -> str:
    listed = None if note.run_pks is None else sorted(note.run_pks)
    body: dict[str, Any] = {"o": note.origin, "c": sorted(c.value for c in note.changes)}
    body["r"] = listed
    return json.dumps(body, separators=(",", ":"))


def decode_note(payload: str) -> Note | None:
    """The note in `payload`, or None when it is not one this version understands."""
    try:
        body = json.loads(payload)
        changes = frozenset(Change(c) for c in body["c"])
        origin = body.get("o")
        raw_runs = body.get("r")
        run_pks = None if raw_runs is None else frozenset(int(r) for r in raw_runs)
    except (ValueError, TypeError, KeyError, AttributeError):
        log.debug("ignoring a note that is not understood: %r", payload)
        return None
    if origin is not None and not isinstance(origin, str):
        return None
    return Note(changes, run_pks, origin)
