"""Database access for one-shot CLI commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from airflow_sc.config import Settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.queries.dags import latest_serialized
from airflow_sc.db.schema import ensure_schema_for_run
from airflow_sc.serialization import DagSpec


@asynccontextmanager
async def open_settings_database(settings: Settings) -> AsyncIterator[Database]:
    """The configured metadata database, schema checked (a fresh SQLite file is created)."""
    url = settings.database_url
    await ensure_schema_for_run(url)
    async with open_database(
        url,
        pool_size=settings.database.pool_size,
        statement_timeout=settings.database.statement_timeout,
        adapter=settings.database.adapter,
    ) as db:
        yield db


async def latest_spec(db: Database, dag_id: str) -> DagSpec | None:
    """The DAG's newest serialized version (what the scheduler runs), None if never parsed."""

    async def body(tx: Transaction) -> dict[str, Any] | None:
        return await latest_serialized(tx, dag_id)

    data = await db.run(body, write=False)
    return None if data is None else DagSpec.from_dict(data)
