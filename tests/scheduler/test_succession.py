"""The home's scheduler seat: who holds it, and what a new holder reclaims."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import job
from airflow_sc.db.queries import jobs
from airflow_sc.scheduler.succession import SEAT_FILE, claim_seat, open_scheduler_seat

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as opened:
        yield opened


async def job_states(db: Database) -> dict[int, str]:
    async with db.transaction(write=False) as tx:
        return {int(i): s for i, s in (await tx.execute(select(job.c.id, job.c.state))).all()}


async def test_a_new_holder_closes_the_job_the_previous_holder_left_running(
    db: Database, tmp_path: Path
) -> None:
    killed = await jobs.start_job(db, "SchedulerJob", now=NOW)
    async with open_scheduler_seat(tmp_path) as seat:
        assert seat.predecessor is None
        assert await claim_seat(db, seat, killed, now=NOW) is None
        # A kill -9 leaves the record: simulated by reading the file while the seat is held.
        assert (tmp_path / SEAT_FILE).read_text() == f"job {killed} host {socket.gethostname()}\n"
        record = (tmp_path / SEAT_FILE).read_text()
    # A clean exit empties the seat: nothing to reclaim after it.
    assert (tmp_path / SEAT_FILE).read_text() == ""
    (tmp_path / SEAT_FILE).write_text(record)

    unnamed = await jobs.start_job(db, "SchedulerJob", now=NOW)
    async with open_scheduler_seat(tmp_path) as seat:
        assert seat.predecessor is not None
        assert seat.predecessor.job_id == killed
        successor = await jobs.start_job(db, "SchedulerJob", now=NOW)
        assert await claim_seat(db, seat, successor, now=NOW) == killed
    assert await job_states(db) == {
        killed: "failed",
        unnamed: "running",  # not named by the seat: its heartbeat decides
        successor: "running",
    }


async def test_a_second_process_on_the_home_does_not_get_the_seat(
    db: Database, tmp_path: Path
) -> None:
    first = await jobs.start_job(db, "SchedulerJob", now=NOW)
    async with open_scheduler_seat(tmp_path) as held:
        await claim_seat(db, held, first, now=NOW)
        async with open_scheduler_seat(tmp_path) as second:
            assert second.handle is None
            assert second.predecessor is None
            other = await jobs.start_job(db, "SchedulerJob", now=NOW)
            assert await claim_seat(db, second, other, now=NOW) is None
    assert await job_states(db) == {first: "running", other: "running"}
