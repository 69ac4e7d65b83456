"""Database access for one-shot CLI commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.schema import ensure_schema_for_run


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
