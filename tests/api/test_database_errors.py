"""A busy or unreachable database gives 503 + Retry-After, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy.engine import make_url

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role, issue_token
from airflow_sc.config import load_settings
from airflow_sc.db.engine import open_database
from airflow_sc.testing import open_service_group
from tests.api.conftest import FakeClock

pytestmark = pytest.mark.anyio


async def serve(ctx: ApiContext, tg: anyio.abc.TaskGroup) -> str:
    endpoint = await tg.start(
        lambda task_status: serve_api(
            ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
        )
    )
    return endpoint.url


def admin_headers(ctx: ApiContext, clock: FakeClock) -> dict[str, str]:
    token = issue_token(
        key=ctx.require_signing_key(),
        username="admin",
        role=Role.ADMIN,
        now=clock(),
        lifetime=ctx.token_lifetime,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_locked_sqlite_gives_503_with_retry_after(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    path = make_url(sqlite_database_url).database
    assert path is not None
    async with (
        open_database(sqlite_database_url, statement_timeout=0.05) as db,
        open_service_group() as tg,
    ):
        ctx = await prepare_context(ApiContext(settings=settings, db=db, clock=clock))
        url = await serve(ctx, tg)
        # Another process's writer holds the database's write lock.
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            async with httpx.AsyncClient(base_url=url, headers=admin_headers(ctx, clock)) as http:
                busy = await http.post("/api/v2/pools", json={"name": "p", "slots": 1})
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "5"
            assert "retry later" in busy.json()["detail"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        async with httpx.AsyncClient(base_url=url, headers=admin_headers(ctx, clock)) as http:
            created = await http.post("/api/v2/pools", json={"name": "p", "slots": 1})
        assert created.status_code == 201  # the same request succeeds once the lock is gone


@pytest.mark.postgres
async def test_dropped_postgres_database_gives_503(
    fresh_postgres_url: str, tmp_path: Path, anyio_backend: str
) -> None:
    import psycopg

    from airflow_sc.db.schema import migrate

    await migrate(fresh_postgres_url)
    clock = FakeClock()
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    async with open_database(fresh_postgres_url) as db, open_service_group() as tg:
        ctx = await prepare_context(ApiContext(settings=settings, db=db, clock=clock))
        url = await serve(ctx, tg)
        name = make_url(fresh_postgres_url).database
        admin = make_url(fresh_postgres_url).set(database="postgres").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        async with httpx.AsyncClient(base_url=url, headers=admin_headers(ctx, clock)) as http:
            for path in ("/api/v2/dags", "/api/v2/pools", "/api/v2/variables"):
                response = await http.get(path)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"] == "5"
