"""DAG run routes on a real server: listing, filters, ordering, one run, delete."""

from __future__ import annotations

import httpx
import pytest

from airflow_sc.auth import Role
from tests.api.conftest import ApiServer
from tests.api.test_dag_runs_rows import add_dag, add_run, add_ti, add_xcom

pytestmark = pytest.mark.anyio


@pytest.fixture
async def runs(api_server: ApiServer) -> ApiServer:
    """Two DAGs: `etl` with three runs (success, failed, running), `report` with one."""
    db = api_server.db
    await add_dag(db, "etl", dag_display_name="Nightly ETL")
    await add_dag(db, "report")
    await add_run(db, "etl", "manual__1", state="success", offset_hours=0, conf={"n": 1})
    await add_run(db, "etl", "scheduled__2", state="failed", run_type="scheduled", offset_hours=1)
    await add_run(db, "etl", "manual__3", state="running", offset_hours=2)
    await add_run(db, "report", "manual__1", state="queued", offset_hours=3, start_date=None)
    return api_server


async def test_list_runs_of_one_dag_in_airflow_shape(
    runs: ApiServer, client: httpx.AsyncClient
) -> None:
    response = await client.get("/api/v2/dags/etl/dagRuns")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 3
    assert [r["dag_run_id"] for r in body["dag_runs"]] == ["manual__1", "scheduled__2", "manual__3"]
    first = body["dag_runs"][0]
    assert first["dag_id"] == "etl"
    assert first["dag_display_name"] == "Nightly ETL"
    assert first["state"] == "success"
    assert first["run_type"] == "manual"
    assert first["conf"] == {"n": 1}
    assert first["duration"] == 60.0
    assert first["logical_date"] == "2026-11-20T08:00:00Z"
    assert first["note"] is None
    assert first["dag_versions"] == []
    assert set(first) >= {
        "queued_at", "data_interval_start", "data_interval_end", "run_after",
        "last_scheduling_decision", "triggered_by", "triggering_user_name",
        "bundle_version", "partition_key", "partition_date", "end_date", "start_date",
    }  # fmt: skip


async def test_tilde_lists_every_dag_and_filters_combine(
    runs: ApiServer, client: httpx.AsyncClient
) -> None:
    everything = (await client.get("/api/v2/dags/~/dagRuns")).json()
    assert everything["total_entries"] == 4
    failed_or_queued = await client.get(
        "/api/v2/dags/~/dagRuns", params={"state": ["failed", "queued"]}
    )
    assert {(r["dag_id"], r["dag_run_id"]) for r in failed_or_queued.json()["dag_runs"]} == {
        ("etl", "scheduled__2"),
        ("report", "manual__1"),
    }
    later = await client.get(
        "/api/v2/dags/~/dagRuns",
        params={"run_after_gte": "2026-11-20T09:00:00Z", "run_type": "manual"},
    )
    assert [r["dag_run_id"] for r in later.json()["dag_runs"]] == ["manual__3", "manual__1"]
    pattern = await client.get("/api/v2/dags/~/dagRuns", params={"run_id_pattern": "SCHED"})
    assert [r["dag_run_id"] for r in pattern.json()["dag_runs"]] == ["scheduled__2"]
    conf = await client.get("/api/v2/dags/~/dagRuns", params={"conf_contains": '"n"'})
    assert [r["dag_run_id"] for r in conf.json()["dag_runs"]] == ["manual__1"]
    long = await client.get("/api/v2/dags/~/dagRuns", params={"duration_gte": 30})
    assert {r["dag_run_id"] for r in long.json()["dag_runs"]} == {"manual__1", "scheduled__2"}


async def test_order_limit_and_offset(runs: ApiServer, client: httpx.AsyncClient) -> None:
    page = await client.get(
        "/api/v2/dags/~/dagRuns", params={"order_by": "-run_after", "limit": 2, "offset": 1}
    )
    body = page.json()
    assert body["total_entries"] == 4
    assert [r["dag_run_id"] for r in body["dag_runs"]] == ["manual__3", "scheduled__2"]


async def test_unknown_order_by_is_400_bad_state_is_422(
    runs: ApiServer, client: httpx.AsyncClient
) -> None:
    bad_order = await client.get("/api/v2/dags/etl/dagRuns", params={"order_by": "color"})
    assert bad_order.status_code == 400
    assert "Ordering with 'color' is disallowed" in bad_order.json()["detail"]
    bad_state = await client.get("/api/v2/dags/etl/dagRuns", params={"state": "sleeping"})
    assert bad_state.status_code == 422


async def test_unknown_dag_and_run_are_404(runs: ApiServer, client: httpx.AsyncClient) -> None:
    missing_dag = await client.get("/api/v2/dags/nope/dagRuns")
    assert missing_dag.status_code == 404
    assert missing_dag.json() == {"detail": "The Dag with ID: `nope` was not found"}
    missing_run = await client.get("/api/v2/dags/etl/dagRuns/nope")
    assert missing_run.status_code == 404
    assert "`nope` was not found" in missing_run.json()["detail"]


async def test_get_one_run(runs: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/dags/etl/dagRuns/scheduled__2")
    assert response.status_code == 200
    assert response.json()["run_type"] == "scheduled"
    assert response.json()["state"] == "failed"


async def test_batch_list_filters_by_body(runs: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v2/dags/~/dagRuns/list",
        json={"dag_ids": ["etl", "report"], "states": ["running", "queued"], "order_by": "-id"},
    )
    assert response.status_code == 200
    assert [(r["dag_id"], r["dag_run_id"]) for r in response.json()["dag_runs"]] == [
        ("report", "manual__1"),
        ("etl", "manual__3"),
    ]
    only_tilde = await client.post("/api/v2/dags/etl/dagRuns/list", json={})
    assert only_tilde.status_code == 422


async def test_delete_removes_run_with_its_task_instances_and_xcoms(
    runs: ApiServer, client: httpx.AsyncClient
) -> None:
    db = runs.db
    pk = await add_run(db, "etl", "manual__9", state="failed", offset_hours=9)
    await add_ti(db, "etl", "manual__9", "extract")
    await add_xcom(db, pk, "etl", "manual__9", "extract", "return_value", [1, 2])
    response = await client.delete("/api/v2/dags/etl/dagRuns/manual__9")
    assert response.status_code == 204
    assert (await client.get("/api/v2/dags/etl/dagRuns/manual__9")).status_code == 404
    tis = await client.get("/api/v2/dags/etl/dagRuns/manual__9/taskInstances")
    assert tis.status_code in (404, 200)
    if tis.status_code == 200:
        assert tis.json()["task_instances"] == []
    assert (await client.delete("/api/v2/dags/etl/dagRuns/manual__9")).status_code == 404


async def test_running_run_is_not_deleted(runs: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v2/dags/etl/dagRuns/manual__3")
    assert response.status_code == 409
    assert (await client.get("/api/v2/dags/etl/dagRuns/manual__3")).status_code == 200


async def test_viewer_reads_but_may_not_delete(runs: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=runs.url, headers=runs.headers(Role.VIEWER)) as viewer:
        assert (await viewer.get("/api/v2/dags/etl/dagRuns")).status_code == 200
        assert (await viewer.delete("/api/v2/dags/etl/dagRuns/manual__1")).status_code == 403
    async with httpx.AsyncClient(base_url=runs.url) as anonymous:
        assert (await anonymous.get("/api/v2/dags/etl/dagRuns")).status_code == 401
