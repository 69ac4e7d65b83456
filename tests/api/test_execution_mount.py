"""The execution API as the real API server serves it, under ``/execution``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from airflow_sc.api import ApiContext, serve_api
from airflow_sc.api.context import prepare_context
from airflow_sc.auth import Role
from airflow_sc.auth.tokens import issue_token
from airflow_sc.config import load_settings
from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.runtime import Shutdown
from airflow_sc.secrets import MetastoreBackend
from airflow_sc.testing import open_service_group
from tests.executors.world import add_run, add_ti

pytestmark = pytest.mark.anyio


@dataclass
class Served:
    url: str
    ctx: ApiContext
    woken: list[list[int]]


@pytest.fixture
async def served(sqlite_database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    woken: list[list[int]] = []

    def wake(run_pks: Collection[int]) -> None:
        woken.append(list(run_pks))

    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path / "home"), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    async with open_database(sqlite_database_url) as db:
        await add_run(db)
        ctx = await prepare_context(
            ApiContext(settings=settings, db=db, shutdown=Shutdown(), wake=wake)
        )
        async with open_service_group() as tg:
            endpoint = await tg.start(
                lambda task_status: serve_api(
                    ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
                )
            )
            yield Served(endpoint.url, ctx, woken)


def try_headers(served: Served, ti_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {served.ctx.require_execution().tokens.issue(ti_id)}"}


async def test_a_worker_runs_a_try_through_the_api_server(served: Served) -> None:
    db: Database = served.ctx.db
    await MetastoreBackend(db, served.ctx.require_cipher()).set_variable("greeting", "hello")
    ti_id = await add_ti(db, "succeed")
    headers = try_headers(served, ti_id)
    async with httpx.AsyncClient(base_url=f"{served.url}/execution") as http:
        started = await http.patch(
            f"/task-instances/{ti_id}/run", json={"hostname": "w", "pid": 1}, headers=headers
        )
        variable = await http.get("/variables/greeting", headers=headers)
        finished = await http.patch(
            f"/task-instances/{ti_id}/state", json={"state": "success"}, headers=headers
        )

    assert started.status_code == 200
    assert variable.json()["value"] == "hello"  # decrypted from the metastore
    assert finished.status_code == 204
    assert served.woken == [[1]]


async def test_a_user_token_of_the_rest_api_does_not_open_the_execution_api(
    served: Served,
) -> None:
    ti_id = await add_ti(served.ctx.db, "succeed")
    user_token = issue_token(
        key=served.ctx.require_signing_key(),
        username="admin",
        role=Role.ADMIN,
        now=datetime.now(UTC),  # valid for the REST API, but not an execution-API token
        lifetime=timedelta(hours=1),
    )
    async with httpx.AsyncClient(base_url=f"{served.url}/execution") as http:
        response = await http.patch(
            f"/task-instances/{ti_id}/run",
            json={"hostname": "w", "pid": 1},
            headers={"authorization": f"Bearer {user_token}"},
        )
    assert response.status_code == 401
