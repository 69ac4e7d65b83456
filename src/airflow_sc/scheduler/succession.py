"""A restarted scheduler reclaims the work of the process it replaces at once.

Each scheduler process of a home tries to take the home's scheduler seat: an exclusive
`flock` on ``<home>/run/scheduler.seat``, in which it writes its job id and host. The kernel
drops the lock when the holder exits, however it exits (kill -9 included). So a process
that takes the seat and finds a job id in the file knows that job's process is gone: it
closes that job (`failed`) as soon as its own job row exists, and housekeeping's first pass
resets the closed job's queued and running task instances instead of waiting
`scheduler.heartbeat_timeout` for its heartbeat to go stale (Airflow's
`adopt_or_reset_orphaned_tasks`, without the wait).

A clean exit empties the file (its job row is closed by the scheduler itself). A second
scheduler on the same home (possible on PostgreSQL) does not get the seat and relies on
heartbeats, as a scheduler on another host does.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import anyio

from airflow_sc.db import Database
from airflow_sc.db.queries import jobs

__all__ = ["SEAT_FILE", "SchedulerSeat", "claim_seat", "open_scheduler_seat"]

log = logging.getLogger(__name__)

#: The seat file, relative to the home folder.
SEAT_FILE = Path("run") / "scheduler.seat"
_RECORD = re.compile(r"^job (\d+) host (\S+)$")


@dataclass(frozen=True, slots=True)
class Predecessor:
    job_id: int
    hostname: str


@dataclass
class SchedulerSeat:
    """The home's seat, held (`handle`) or not; what the previous holder left in it."""

    path: Path
    handle: IO[str] | None
    predecessor: Predecessor | None


@asynccontextmanager
async def open_scheduler_seat(home: Path) -> AsyncIterator[SchedulerSeat]:
    """Take the seat of `home` for the block when no other process holds it (never waits)."""
    path = home / SEAT_FILE
    seat = await anyio.to_thread.run_sync(_take_sync, path)
    try:
        yield seat
    finally:
        if seat.handle is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_leave_sync, seat.handle)


async def claim_seat(
    db: Database, seat: SchedulerSeat, job_id: int, *, now: datetime
) -> int | None:
    """Close the predecessor's job (when it is still `running`) and write `job_id` into
    the seat; the predecessor's job id when it was closed here."""
    if seat.handle is None:
        return None
    closed = None
    predecessor = seat.predecessor
    if (
        predecessor is not None
        and predecessor.job_id != job_id
        and await jobs.close_running_job(
            db,
            predecessor.job_id,
            job_type="SchedulerJob",
            hostname=predecessor.hostname,
            now=now,
        )
    ):
        closed = predecessor.job_id
        log.warning(
            "scheduler job %d of the previous process on this home has gone (it no longer "
            "holds %s): its task instances are reset now",
            closed,
            seat.path,
        )
    await anyio.to_thread.run_sync(_record_sync, seat.handle, job_id)
    return closed


def _take_sync(path: Path) -> SchedulerSeat:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until released)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return SchedulerSeat(path, None, None)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    match = _RECORD.match(handle.read().strip())
    predecessor = Predecessor(int(match[1]), match[2]) if match else None
    return SchedulerSeat(path, handle, predecessor)


def _record_sync(handle: IO[str], job_id: int) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"job {job_id} host {socket.gethostname()}\n")
    handle.flush()


def _leave_sync(handle: IO[str]) -> None:
    try:
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
