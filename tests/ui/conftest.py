"""A real server with the UI (hypercorn on 127.0.0.1 port 0, a real database) and its
change feed.

- `ui_server`: `.url`, `.ctx`, `.db`, `.clock`, `.changes` (the `ChangeFeed` the live pages
  follow), `.session_cookie(role)` (the cookie a seeded user of `role` gets when signing
  in) and `.csrf(role)`. The seeded users are `tests.api.conftest.seed_role_users`'.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio
import pytest

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Database
from airflow_sc.runtime import Shutdown
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.testing import open_service_group
from airflow_sc.ui import create_web_app
from airflow_sc.ui.session import SESSION_COOKIE, csrf_token
from tests.api.conftest import FakeClock, role_token
from tests.api.conftest import api_db as api_db  # the seeded database, a fixture
from tests.api.conftest import clock as clock  # the server's fake clock, a fixture


@dataclass
class UiServer:
    url: str
    ctx: ApiContext
    clock: FakeClock
    changes: ChangeFeed
    home: Path

    @property
    def db(self) -> Database:
        return self.ctx.db

    def token(self, role: Role) -> str:
        return role_token(self.ctx, role, self.clock())

    def cookies(self, role: Role) -> dict[str, str]:
        return {SESSION_COOKIE: self.token(role)}

    def csrf(self, role: Role) -> str:
        return csrf_token(self.ctx.require_signing_key(), self.token(role))


@pytest.fixture
async def ui_server(api_db: Database, clock: FakeClock, tmp_path: Path) -> AsyncIterator[UiServer]:
    home = tmp_path / "home"
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(home), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    shutdown = Shutdown()
    ctx = await prepare_context(
        ApiContext(settings=settings, db=api_db, shutdown=shutdown, clock=clock)
    )
    changes = ChangeFeed()
    async with open_service_group() as tg:
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx,
                shutdown_trigger=anyio.sleep_forever,
                app_factory=partial(create_web_app, changes=changes),
                task_status=task_status,
            )
        )
        yield UiServer(endpoint.url, ctx, clock, changes, home)
        # Ends the live streams still open, as a real drain does.
        shutdown.request_drain("test over", grace=1)
