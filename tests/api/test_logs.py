"""Task log route on a real server: JSON pages with continuation tokens, and live NDJSON
that follows the file while the try runs and ends when it succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import update

from airflow_sc.api.routes.logs import log_path
from airflow_sc.db import Transaction
from airflow_sc.db.models import task_instance
from tests.api.conftest import ApiServer
from tests.api.test_dag_runs_rows import add_dag, add_run, add_ti

pytestmark = pytest.mark.anyio
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])

URL = "/api/v2/dags/etl/dagRuns/r1/taskInstances/work/logs/1"


def record(event: str, **extra: object) -> str:
    return json.dumps({"timestamp": "2026-11-20T08:00:01Z", "event": event, **extra}) + "\n"


@pytest.fixture
async def server(api_server: ApiServer) -> ApiServer:
    await add_dag(api_server.db, "etl")
    await add_run(api_server.db, "etl", "r1", state="running")
    return api_server


def the_log(server: ApiServer) -> Path:
    path = log_path(server.ctx.settings.base_log_folder, "etl", "r1", "work", -1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def set_state(server: ApiServer, state: str) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(
            update(task_instance).where(task_instance.c.task_id == "work").values(state=state)
        )

    await server.db.run(body)


async def test_finished_try_log_as_json(server: ApiServer, client: httpx.AsyncClient) -> None:
    await add_ti(server.db, "etl", "r1", "work", state="success")
    the_log(server).write_text(record("starting", level="info") + "plain text line\n")
    response = await client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["continuation_token"] is None
    assert [m["event"] for m in body["content"]] == ["starting", "plain text line"]
    assert body["content"][0]["level"] == "info"
    assert body["content"][0]["timestamp"] == "2026-11-20T08:00:01Z"


@asyncio_only
async def test_running_try_pages_with_a_continuation_token(
    server: ApiServer, client: httpx.AsyncClient
) -> None:
    await add_ti(server.db, "etl", "r1", "work", state="running", end_date=None)
    path = the_log(server)
    path.write_text(record("one") + '{"event": "half a li')
    first = (await client.get(URL)).json()
    assert [m["event"] for m in first["content"]] == ["one"]
    assert first["continuation_token"]
    with path.open("a") as file:
        file.write('ne"}\n' + record("three"))
    second = (await client.get(URL, params={"token": first["continuation_token"]})).json()
    assert [m["event"] for m in second["content"]] == ["half a line", "three"]
    bad = await client.get(URL, params={"token": "garbage"})
    assert bad.status_code == 400


@asyncio_only
async def test_unknown_task_instance_or_try_is_404(
    server: ApiServer, client: httpx.AsyncClient
) -> None:
    await add_ti(server.db, "etl", "r1", "work", state="success")
    assert (await client.get(URL.replace("/work/", "/nope/"))).status_code == 404
    assert (await client.get(URL.replace("logs/1", "logs/7"))).status_code == 404


async def test_ndjson_follows_the_file_until_the_try_succeeds(
    server: ApiServer, client: httpx.AsyncClient
) -> None:
    await add_ti(server.db, "etl", "r1", "work", state="running", end_date=None)
    path = the_log(server)
    path.write_text(record("first"))
    received: list[str] = []
    with anyio.fail_after(10):
        async with client.stream("GET", URL, headers={"Accept": "application/x-ndjson"}) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("application/x-ndjson")
            lines = resp.aiter_lines()
            async for line in lines:
                received.append(json.loads(line)["event"])
                if received == ["first"]:
                    # The client has seen the first line: the task writes more, then ends.
                    with path.open("a") as file:
                        file.write(record("second"))
                elif received == ["first", "second"]:
                    with path.open("a") as file:
                        file.write(record("last words"))
                    await set_state(server, "success")
    assert received == ["first", "second", "last words"]


@asyncio_only
async def test_client_leaving_a_followed_log_ends_the_stream(
    server: ApiServer, client: httpx.AsyncClient
) -> None:
    await add_ti(server.db, "etl", "r1", "work", state="running", end_date=None)
    the_log(server).write_text(record("only line"))
    with anyio.fail_after(10):
        async with client.stream("GET", URL, headers={"Accept": "application/x-ndjson"}) as resp:
            async for line in resp.aiter_lines():
                assert json.loads(line)["event"] == "only line"
                break
    # The server keeps answering after the client went away mid-stream.
    with anyio.fail_after(10):
        assert (await client.get(URL)).status_code == 200
