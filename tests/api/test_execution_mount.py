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
from tests.api.conftest import role_token, seed_role_users
from tests.api.test_input_rules import post_chunked
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


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


#: What a task may send that breaks the REST API's input rules, as raw JSON text (a lone
#: surrogate cannot be encoded otherwise): (method, path under the try, body, where).
BAD_CALLS = (
    ("POST", "xcoms/succeed/return_value", '{"value": "\\ud800"}', "args.value"),
    ("POST", "xcoms/succeed/return_value", '{"value": {"a\\u0000": 1}}', "args.value: key"),
    ("POST", "xcoms/succeed/return_value", '{"value": [1, NaN]}', "args.value[1]: NaN"),
    ("POST", "xcoms/succeed/return_value", f'{{"value": {deep(300)}}}', "nested deeper"),
    ("POST", "xcoms/succeed/key%00", '{"value": 1}', "args.key"),
    ("PATCH", "state", '{"state": "success", "skip": ["\\udfff"]}', "args.skip[0]"),
    ("PATCH", "run", '{"hostname": "w\\u0000", "pid": 1}', "args.hostname"),
    ("PUT", "heartbeat?note=%00", "", "args.note"),
)


async def test_a_tasks_calls_meet_the_rest_apis_input_rules_and_store_nothing(
    served: Served,
) -> None:
    db: Database = served.ctx.db
    ti_id = await add_ti(db, "succeed")
    headers = try_headers(served, ti_id)
    await seed_role_users(db)
    admin = role_token(served.ctx, Role.ADMIN, datetime.now(UTC))
    async with httpx.AsyncClient(base_url=served.url) as http:
        started = await http.patch(
            f"/execution/task-instances/{ti_id}/run",
            json={"hostname": "w", "pid": 1},
            headers=headers,
        )
        assert started.status_code == 200
        for method, path, body, where in BAD_CALLS:
            response = await http.request(
                method,
                f"/execution/task-instances/{ti_id}/{path}",
                content=body.encode(),
                headers={**headers, "content-type": "application/json"},
            )
            assert response.status_code == 400, (path, body[:40], response.text)
            assert where in response.json()["detail"], (path, response.json())
        variable = await http.put(
            "/execution/variables/k",
            content=b'{"value": "\\ud800"}',
            headers={**headers, "content-type": "application/json"},
        )
        trigger = await http.post(
            "/execution/dag-runs/behaviours/r2",
            content=f'{{"conf": {{"x": {deep(300)}}}}}'.encode(),
            headers={**headers, "content-type": "application/json"},
        )
        # Nothing was stored, and what a user reads next answers as before.
        rest = {"authorization": f"Bearer {admin}"}
        xcoms = await http.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", headers=rest)
        runs = await http.get("/api/v2/dags/~/dagRuns", headers=rest)
        tis = await http.get("/api/v2/dags/~/dagRuns/~/taskInstances", headers=rest)
        variables = await http.get("/api/v2/variables", headers=rest)
        # The try is still running: a refused call changes nothing.
        finished = await http.patch(
            f"/execution/task-instances/{ti_id}/state", json={"state": "success"}, headers=headers
        )
    assert (variable.status_code, trigger.status_code) == (400, 400)
    assert "args.value" in variable.json()["detail"]
    assert trigger.json()["detail"].startswith("args.conf.x[0][0]")
    assert trigger.json()["detail"].endswith(": nested deeper than 64 levels")
    assert xcoms.status_code == 200
    assert xcoms.json()["total_entries"] == 0
    assert (runs.status_code, tis.status_code) == (200, 200)
    assert [r["dag_run_id"] for r in runs.json()["dag_runs"]] == ["run_1"]
    assert variables.json()["total_entries"] == 0
    assert finished.status_code == 204


@pytest.fixture
async def small_limits(sqlite_database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The API server with a 4 KiB body limit and depth 3."""
    settings = load_settings(
        {
            "AIRFLOW_SC_HOME": str(tmp_path / "home"),
            "AIRFLOW_SC__API__PORT": "0",
            "AIRFLOW_SC__API__MAX_REQUEST_BODY_SIZE": "4096",
            "AIRFLOW_SC__API__MAX_REQUEST_JSON_DEPTH": "3",
        },
        cwd=tmp_path,
    )
    async with open_database(sqlite_database_url) as db:
        await add_run(db)
        ctx = await prepare_context(ApiContext(settings=settings, db=db, shutdown=Shutdown()))
        async with open_service_group() as tg:
            endpoint = await tg.start(
                lambda task_status: serve_api(
                    ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
                )
            )
            yield Served(endpoint.url, ctx, [])


async def test_the_rest_apis_limits_bound_a_tasks_calls(small_limits: Served) -> None:
    ti_id = await add_ti(small_limits.ctx.db, "succeed")
    headers = try_headers(small_limits, ti_id)
    path = f"/execution/task-instances/{ti_id}/xcoms/succeed/big"
    too_large = (
        '{"detail":"Request body is larger than 4096 bytes, '
        'the limit set by api.max_request_body_size"}'
    )
    async with httpx.AsyncClient(base_url=small_limits.url, headers=headers) as http:
        declared = await http.post(path, json={"value": "x" * 5000})
        deep = await http.post(path, json={"value": [[[1]]]})
        fits = await http.post(path, json={"value": [[1]]})  # args, the list, the inner one
    # No Content-Length: refused once past the limit while the task is still sending.
    streamed = await post_chunked(small_limits.url, path, headers, chunks=6)
    assert (declared.status_code, declared.text) == (413, too_large)
    assert streamed.startswith(b"HTTP/1.1 413 ")
    assert streamed.endswith(too_large.encode())
    assert deep.status_code == 400
    assert deep.json()["detail"] == "args.value[0][0]: nested deeper than 3 levels"
    assert fits.status_code == 204
