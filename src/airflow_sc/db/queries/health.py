"""Queries behind `GET /api/v2/monitor/health`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.db.models import job


async def latest_heartbeats(db: Database) -> dict[str, datetime]:
    """Latest heartbeat of a running job, per job type (`SchedulerJob`, `TriggererJob`, ...)."""

    async def body(tx: Transaction) -> dict[str, datetime]:
        rows = await tx.execute(
            select(job.c.job_type, func.max(job.c.latest_heartbeat).label("beat"))
            .where(job.c.state == "running")
            .group_by(job.c.job_type)
        )
        return {row.job_type: row.beat for row in rows if row.beat is not None}

    return await db.run(body, write=False)
