"""The job table: one row per running component, with its heartbeat."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime

from sqlalchemy import insert, update

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import job


async def start_job(db: Database, job_type: str, *, now: datetime) -> int:
    """Insert a running job row and return its id."""

    async def body(tx: Transaction) -> int:
        rows = await tx.execute(
            insert(job)
            .values(
                job_type=job_type,
                state="running",
                start_date=now,
                latest_heartbeat=now,
                hostname=socket.gethostname(),
                unixname=getpass.getuser(),
            )
            .returning(job.c.id)
        )
        return int(rows.scalar())

    return await db.run(body)


async def heartbeat(db: Database, job_id: int, *, now: datetime) -> bool:
    """Beat a running job; False when it is no longer `running` (another process ended it)."""

    async def body(tx: Transaction) -> bool:
        rows = await tx.execute(
            update(job)
            .where(job.c.id == job_id, job.c.state == "running")
            .values(latest_heartbeat=now)
            .returning(job.c.id)
        )
        return rows.scalar() is not None

    return await db.run(body)


async def finish_job(db: Database, job_id: int, *, state: str, now: datetime) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(update(job).where(job.c.id == job_id).values(state=state, end_date=now))

    await db.run(body)


async def close_running_job(
    db: Database, job_id: int, *, job_type: str, hostname: str, now: datetime
) -> bool:
    """Mark a `running` job of `job_type` on `hostname` failed (its process is known to be
    gone); False when there is no such job."""

    async def body(tx: Transaction) -> bool:
        rows = await tx.execute(
            update(job)
            .where(
                job.c.id == job_id,
                job.c.state == "running",
                job.c.job_type == job_type,
                job.c.hostname == hostname,
            )
            .values(state="failed", end_date=now)
            .returning(job.c.id)
        )
        return rows.scalar() is not None

    return await db.run(body)
