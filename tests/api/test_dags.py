"""DAG routes on a real server and database: listing, filters, pause, details, tasks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer
from tests.api.dag_seeds import add_import_error, add_runs, example_dag, store_dags

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]


@pytest.fixture
async def seeded(api_server: ApiServer, tmp_path: Path) -> ApiServer:
    now = api_server.clock()
    await store_dags(
        api_server.db,
        tmp_path / "etl.py",
        [
            example_dag("etl_daily", tmp_path / "etl.py", tags=["etl", "daily"]),
            example_dag("etl_hourly", tmp_path / "etl.py", tags=["etl"], owner="ops"),
        ],
        now=now,
    )
    await store_dags(
        api_server.db,
        tmp_path / "report.py",
        [example_dag("report", tmp_path / "report.py", tags=["reports"])],
        now=now,
        paused=True,
    )
    return api_server


def ids(body: dict) -> list[str]:
    return [d["dag_id"] for d in body["dags"]]


async def test_list_dags_with_airflow_fields(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/dags")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 3
    assert ids(body) == ["etl_daily", "etl_hourly", "report"]
    first = body["dags"][0]
    assert first["is_paused"] is False
    assert first["owners"] == ["data"]
    assert [t["name"] for t in first["tags"]] == ["daily", "etl"]
    assert first["fileloc"].endswith("etl.py")
    assert first["timetable_summary"]
    assert set(first) >= {"file_token", "next_dagrun_run_after", "max_active_tasks"}


FILTERS = [
    ({"dag_id_pattern": "ETL"}, ["etl_daily", "etl_hourly"]),
    ({"dag_id_prefix_pattern": "rep"}, ["report"]),
    ({"tags": ["daily", "reports"]}, ["etl_daily", "report"]),
    ({"tags": ["daily", "etl"], "tags_match_mode": "all"}, ["etl_daily"]),
    ({"paused": "true"}, ["report"]),
    ({"owners": ["ops"]}, ["etl_hourly"]),
    ({"order_by": "-dag_id", "limit": 2}, ["report", "etl_hourly"]),
    ({"limit": 1, "offset": 1}, ["etl_hourly"]),
    ({"dag_run_state": ["failed"]}, ["etl_hourly"]),
    ({"last_dag_run_state": "success"}, ["etl_daily"]),
    ({"dag_run_start_date_gte": "2026-11-23T12:00:00Z"}, ["etl_hourly"]),
    ({"is_favorite": "true"}, []),
]


async def test_list_dags_filters(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    now = seeded.clock()
    await add_runs(seeded.db, "etl_daily", ["queued", "success"], now=now)
    await add_runs(seeded.db, "etl_hourly", ["failed"], now=now, started=True)
    for query, expected in FILTERS:
        response = await client.get("/api/v2/dags", params=query)
        assert response.status_code == 200, (query, response.text)
        assert ids(response.json()) == expected, query


async def test_bad_order_by_is_400_and_bad_limit_is_422(
    seeded: ApiServer, client: httpx.AsyncClient
) -> None:
    bad_order = await client.get("/api/v2/dags", params={"order_by": "nope"})
    assert bad_order.status_code == 400
    assert "nope" in bad_order.json()["detail"]
    bad_limit = await client.get("/api/v2/dags", params={"limit": -1})
    assert bad_limit.status_code == 422
    assert bad_limit.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_pause_and_unpause_one_dag(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    paused = await client.patch("/api/v2/dags/etl_daily", json={"is_paused": True})
    assert paused.status_code == 200
    assert paused.json()["is_paused"] is True
    assert (await client.get("/api/v2/dags/etl_daily")).json()["is_paused"] is True
    missing = await client.patch("/api/v2/dags/nope", json={"is_paused": True})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "The Dag with ID: `nope` was not found"}
    extra = await client.patch("/api/v2/dags/etl_daily", json={"is_paused": True, "x": 1})
    assert extra.status_code == 422
    mask = await client.patch(
        "/api/v2/dags/etl_daily", params={"update_mask": "owners"}, json={"is_paused": False}
    )
    assert mask.status_code == 400


async def test_bulk_pause_by_pattern(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/v2/dags", params={"dag_id_pattern": "etl"}, json={"is_paused": True}
    )
    assert response.status_code == 200
    assert ids(response.json()) == ["etl_daily", "etl_hourly"]
    assert all(d["is_paused"] for d in response.json()["dags"])
    listed = (await client.get("/api/v2/dags", params={"paused": "true"})).json()
    assert ids(listed) == ["etl_daily", "etl_hourly", "report"]
    # No pattern: nothing matches (Airflow's safety rule against pausing everything).
    none = await client.patch("/api/v2/dags", json={"is_paused": False})
    assert none.json() == {"dags": [], "total_entries": 0}
    everything = await client.patch(
        "/api/v2/dags", params={"dag_id_pattern": "~"}, json={"is_paused": False}
    )
    assert everything.json()["total_entries"] == 3


async def test_details_tasks_and_masked_params(
    seeded: ApiServer, client: httpx.AsyncClient
) -> None:
    details = (await client.get("/api/v2/dags/etl_daily/details")).json()
    assert details["dag_id"] == "etl_daily"
    assert details["catchup"] is False
    assert details["timezone"] == "UTC"
    assert details["start_date"].startswith("2026-01-01")
    assert "s3cr3t-default" not in str(details["params"])
    assert details["latest_dag_version"]["version_number"] == 1
    tasks = (await client.get("/api/v2/dags/etl_daily/tasks")).json()
    assert tasks["total_entries"] == 2
    assert [t["task_id"] for t in tasks["tasks"]] == ["extract", "load"]
    extract = tasks["tasks"][0]
    assert extract["operator_name"] == "BashOperator"
    assert extract["downstream_task_ids"] == ["load"]
    assert extract["retries"] == 2
    assert extract["retry_delay"] == {
        "__type": "TimeDelta",
        "days": 0,
        "seconds": 300,
        "microseconds": 0,
    }
    load = (await client.get("/api/v2/dags/etl_daily/tasks/load")).json()
    assert load["execution_timeout"]["seconds"] == 300
    missing = await client.get("/api/v2/dags/etl_daily/tasks/nope")
    assert missing.status_code == 404
    assert (await client.get("/api/v2/dags/nope/details")).status_code == 404


async def test_source_tags_and_stats(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    source = (await client.get("/api/v2/dagSources/report")).json()
    assert source["content"].startswith("# the DAG file's source")
    assert source["version_number"] == 1
    plain = await client.get("/api/v2/dagSources/report", headers={"Accept": "text/plain"})
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text.startswith("# the DAG file's source")
    assert (await client.get("/api/v2/dagSources/nope")).status_code == 404

    tags = (await client.get("/api/v2/dagTags")).json()
    assert tags == {"tags": ["daily", "etl", "reports"], "total_entries": 3}
    rep = (await client.get("/api/v2/dagTags", params={"tag_name_pattern": "rep"})).json()
    assert rep["tags"] == ["reports"]

    await add_runs(seeded.db, "etl_daily", ["success", "success", "failed"], now=seeded.clock())
    stats = (await client.get("/api/v2/dagStats", params={"dag_ids": ["etl_daily"]})).json()
    assert stats["total_entries"] == 1
    counts = {s["state"]: s["count"] for s in stats["dags"][0]["stats"]}
    assert counts == {"queued": 0, "running": 0, "success": 2, "failed": 1}


async def test_delete_dag(seeded: ApiServer, client: httpx.AsyncClient) -> None:
    await add_runs(seeded.db, "report", ["success"], now=seeded.clock())
    deleted = await client.delete("/api/v2/dags/report")
    assert deleted.status_code == 200
    assert (await client.get("/api/v2/dags/report")).status_code == 404
    assert (await client.delete("/api/v2/dags/report")).status_code == 404
    stats = (await client.get("/api/v2/dagStats")).json()
    assert [d["dag_id"] for d in stats["dags"]] == ["etl_daily", "etl_hourly"]


async def test_import_errors(api_server: ApiServer, client: httpx.AsyncClient) -> None:
    now = api_server.clock()
    await add_import_error(api_server.db, "/dags/b.py", "SyntaxError: b", now=now)
    await add_import_error(api_server.db, "/dags/a.py", "NameError: a", now=now)
    listed = (await client.get("/api/v2/importErrors", params={"order_by": "filename"})).json()
    assert listed["total_entries"] == 2
    assert [e["filename"] for e in listed["import_errors"]] == ["/dags/a.py", "/dags/b.py"]
    one = listed["import_errors"][0]
    fetched = (await client.get(f"/api/v2/importErrors/{one['import_error_id']}")).json()
    assert fetched["stack_trace"] == "NameError: a"
    missing = await client.get("/api/v2/importErrors/99999")
    assert missing.status_code == 404
    assert (await client.get("/api/v2/importErrors/abc")).status_code == 422
