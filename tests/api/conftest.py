"""A real API server for route tests: hypercorn on 127.0.0.1 port 0, a real database.

- `api_server`: the running server (`.url`, `.ctx`, `.db`, `.clock`, `.token(role)`,
  `.headers(role)`); the database is `database_url` (migrated, SQLite and PostgreSQL).
- `client`: an httpx client on it, authenticated as admin.
- `clock`: the server's clock (a `FakeClock`; `.advance(seconds)` moves it).
- `api_db` holds one user per role, named after it (`seed_role_users`), whose tokens
  `role_token` issues; no password logs them in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role, credential_stamp, issue_token
from airflow_sc.config import load_settings
from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.queries.users import StoredUser, insert_user
from airflow_sc.runtime import Shutdown
from airflow_sc.testing import open_service_group

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

#: For contract suites: each database once, on the backend that exercises the other database
#: adapter (PostgreSQL on asyncio: native asyncpg; SQLite on trio: worker threads). Smoke
#: tests that should run on all four combinations use the plain fixtures instead.
ONE_BACKEND_PER_DATABASE = pytest.mark.parametrize(
    ("anyio_backend", "database_kind"),
    [
        pytest.param("asyncio", "postgres", marks=pytest.mark.postgres, id="asyncio-postgres"),
        pytest.param("trio", "sqlite", id="trio-sqlite"),
    ],
    indirect=True,
)


def seeded_hash(role: Role) -> str:
    """The stored password hash of the seeded user of `role`: no password matches it."""
    return f"unusable:{role.value}"


async def seed_role_users(db: Database) -> None:
    """One user per role, named after the role (`admin`, `op`, `user`, `viewer`)."""
    for role in Role:
        await insert_user(db, StoredUser(role.value, seeded_hash(role), role.value, START))


def role_token(ctx: ApiContext, role: Role, now: datetime) -> str:
    """A token of the seeded user of `role`, as `POST /auth/token` would issue it."""
    return issue_token(
        key=ctx.require_signing_key(),
        username=role.value,
        role=role,
        now=now,
        lifetime=ctx.token_lifetime,
        stamp=credential_stamp(role.value, seeded_hash(role)),
    )


class FakeClock:
    """The server's notion of now; tests move it explicitly."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class ApiServer:
    url: str
    ctx: ApiContext
    clock: FakeClock

    @property
    def db(self) -> Database:
        return self.ctx.db

    def token(self, role: Role) -> str:
        return role_token(self.ctx, role, self.clock())

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api_db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        await seed_role_users(database)
        yield database


@pytest.fixture
async def api_server(
    api_db: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[ApiServer]:
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path / "home"), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    ctx = await prepare_context(
        ApiContext(settings=settings, db=api_db, shutdown=Shutdown(), clock=clock)
    )
    async with open_service_group() as tg:
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        yield ApiServer(endpoint.url, ctx, clock)


@pytest.fixture
async def client(api_server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api_server.url, headers=api_server.headers(Role.ADMIN)
    ) as http:
        yield http
