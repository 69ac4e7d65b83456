"""A busy or unreachable database gives 503 + Retry-After, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import slot_pool
from airflow_sc.db.queries.api_errors import classify_database_error
from airflow_sc.testing import open_service_group
from tests.api.conftest import FakeClock, role_token, seed_role_users

pytestmark = pytest.mark.anyio


async def serve(ctx: ApiContext, tg: anyio.abc.TaskGroup) -> str:
    endpoint = await tg.start(
        lambda task_status: serve_api(
            ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
        )
    )
    return endpoint.url


def admin_headers(ctx: ApiContext, clock: FakeClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {role_token(ctx, Role.ADMIN, clock())}"}


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
        await seed_role_users(db)
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
        await seed_role_users(db)
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


@pytest.mark.postgres
async def test_postgres_row_locked_by_another_writer_gives_503_then_succeeds(
    postgres_database_url: str, tmp_path: Path
) -> None:
    import psycopg

    clock = FakeClock()
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    holder_url = make_url(postgres_database_url).set(drivername="postgresql")
    async with (
        open_database(postgres_database_url, statement_timeout=0.2) as db,
        open_service_group() as tg,
    ):
        await seed_role_users(db)
        ctx = await prepare_context(ApiContext(settings=settings, db=db, clock=clock))
        url = await serve(ctx, tg)
        async with httpx.AsyncClient(base_url=url, headers=admin_headers(ctx, clock)) as http:
            # Another client's transaction holds the pool's row lock and does not let go.
            with psycopg.connect(holder_url.render_as_string(hide_password=False)) as holder:
                holder.execute("SELECT * FROM slot_pool WHERE pool = 'default_pool' FOR UPDATE")
                busy = await http.patch("/api/v2/pools/default_pool", json={"slots": 5})
                assert busy.status_code == 503, busy.text
                assert busy.headers["retry-after"] == "5"
                # Reads do not wait for the lock.
                assert (await http.get("/api/v2/pools/default_pool")).json()["slots"] == 128
                holder.rollback()
            done = await http.patch("/api/v2/pools/default_pool", json={"slots": 5})
            assert done.status_code == 200, done.text
            assert done.json()["slots"] == 5


@pytest.mark.postgres
async def test_a_lock_wait_given_up_is_classified_as_busy(postgres_database_url: str) -> None:
    # `lock_timeout` (or NOWAIT) refuses to wait for another writer: retry later, not a bug.
    async with (
        open_database(postgres_database_url) as db,
        open_database(postgres_database_url) as other,
    ):
        locked = anyio.Event()
        release = anyio.Event()

        async def hold(tx: Transaction) -> None:
            await tx.execute(select(slot_pool).with_for_update())
            locked.set()
            await release.wait()

        async def grab(tx: Transaction) -> None:
            await tx.execute(select(slot_pool).with_for_update(nowait=True))

        async with anyio.create_task_group() as tg:
            tg.start_soon(db.run, hold)
            await locked.wait()
            with pytest.raises(Exception) as refused:  # noqa: PT011 - any driver's class
                await other.run(grab)
            release.set()
    assert classify_database_error(refused.value) == "unavailable"
