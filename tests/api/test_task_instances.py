"""Task instance routes on a real server: listings (with `~`), one TI, its tries."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ApiServer
from tests.api.test_dag_runs_rows import add_dag, add_run, add_ti, add_try

pytestmark = pytest.mark.anyio
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@pytest.fixture
async def tis(api_server: ApiServer) -> ApiServer:
    db = api_server.db
    await add_dag(db, "etl")
    await add_dag(db, "report")
    await add_run(db, "etl", "r1", state="running")
    await add_run(db, "report", "r1", state="success", offset_hours=1)
    await add_ti(db, "etl", "r1", "extract", state="success", duration=5.0)
    await add_ti(db, "etl", "r1", "transform", state="running", try_number=2, max_tries=3,
                 end_date=None, duration=None, task_display_name="Transform it")  # fmt: skip
    await add_ti(db, "etl", "r1", "load", state=None, try_number=0, start_date=None,
                 end_date=None, duration=None, pool="db_pool")  # fmt: skip
    await add_ti(db, "report", "r1", "render", state="failed", duration=30.0)
    await add_try(db, "etl", "r1", "transform", state="failed", try_number=1)
    return api_server


async def test_list_task_instances_of_a_run(tis: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/dags/etl/dagRuns/r1/taskInstances")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 3
    by_task = {ti["task_id"]: ti for ti in body["task_instances"]}
    assert set(by_task) == {"extract", "transform", "load"}
    transform = by_task["transform"]
    assert transform["state"] == "running"
    assert transform["try_number"] == 2
    assert transform["task_display_name"] == "Transform it"
    assert transform["dag_run_id"] == "r1"
    assert transform["map_index"] == -1
    assert transform["logical_date"] == "2026-11-20T08:00:00Z"
    assert transform["operator_name"] == "PythonOperator"
    assert transform["trigger"] is None
    assert by_task["load"]["state"] is None
    assert by_task["extract"]["task_display_name"] == "extract"


@asyncio_only
async def test_wildcards_and_filters(tis: ApiServer, client: httpx.AsyncClient) -> None:
    everything = (await client.get("/api/v2/dags/~/dagRuns/~/taskInstances")).json()
    assert everything["total_entries"] == 4
    failed = await client.get(
        "/api/v2/dags/~/dagRuns/~/taskInstances", params={"state": ["failed", "none"]}
    )
    assert {ti["task_id"] for ti in failed.json()["task_instances"]} == {"render", "load"}
    slow = await client.get("/api/v2/dags/~/dagRuns/~/taskInstances", params={"duration_gt": 10})
    assert [ti["task_id"] for ti in slow.json()["task_instances"]] == ["render"]
    pool = await client.get("/api/v2/dags/etl/dagRuns/~/taskInstances", params={"pool": "db_pool"})
    assert [ti["task_id"] for ti in pool.json()["task_instances"]] == ["load"]
    ordered = await client.get(
        "/api/v2/dags/~/dagRuns/~/taskInstances", params={"order_by": "-duration", "limit": 1}
    )
    assert [ti["task_id"] for ti in ordered.json()["task_instances"]] == ["render"]
    bad = await client.get("/api/v2/dags/~/dagRuns/~/taskInstances", params={"order_by": "x"})
    assert bad.status_code == 400


@asyncio_only
async def test_batch_list(tis: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v2/dags/~/dagRuns/~/taskInstances/list",
        json={"dag_ids": ["etl"], "state": ["success", "running"]},
    )
    assert response.status_code == 200
    assert {ti["task_id"] for ti in response.json()["task_instances"]} == {"extract", "transform"}
    wrong = await client.post("/api/v2/dags/etl/dagRuns/~/taskInstances/list", json={})
    assert wrong.status_code == 422


async def test_one_task_instance_and_404s(tis: ApiServer, client: httpx.AsyncClient) -> None:
    one = await client.get("/api/v2/dags/etl/dagRuns/r1/taskInstances/extract")
    assert one.status_code == 200
    assert one.json()["state"] == "success"
    missing = await client.get("/api/v2/dags/etl/dagRuns/r1/taskInstances/nope")
    assert missing.status_code == 404
    assert "task_id: `nope`" in missing.json()["detail"]
    no_run = await client.get("/api/v2/dags/etl/dagRuns/nope/taskInstances")
    assert no_run.status_code == 404


@asyncio_only
async def test_tries_are_history_then_current(tis: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/dags/etl/dagRuns/r1/taskInstances/transform/tries")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 2
    assert [(t["try_number"], t["state"]) for t in body["task_instances"]] == [
        (1, "failed"),
        (2, "running"),
    ]
    missing = await client.get("/api/v2/dags/etl/dagRuns/r1/taskInstances/nope/tries")
    assert missing.status_code == 404
