"""XCom routes on a real server: listing (with `~`) and one entry's value."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ApiServer
from tests.api.test_dag_runs_rows import add_dag, add_run, add_ti, add_xcom

pytestmark = pytest.mark.anyio
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])

BASE = "/api/v2/dags/etl/dagRuns/r1/taskInstances"


@pytest.fixture
async def xcoms(api_server: ApiServer) -> ApiServer:
    db = api_server.db
    await add_dag(db, "etl")
    pk = await add_run(db, "etl", "r1")
    await add_ti(db, "etl", "r1", "extract")
    await add_ti(db, "etl", "r1", "split", map_index=0)
    await add_xcom(db, pk, "etl", "r1", "extract", "return_value", {"rows": 3})
    await add_xcom(db, pk, "etl", "r1", "extract", "stats", [1, 2])
    await add_xcom(db, pk, "etl", "r1", "split", "return_value", "a", map_index=0)
    return api_server


async def test_list_entries_without_values(xcoms: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/extract/xcomEntries")
    assert response.status_code == 200
    body = response.json()
    assert body["total_entries"] == 2
    assert [e["key"] for e in body["xcom_entries"]] == ["return_value", "stats"]
    assert "value" not in body["xcom_entries"][0]
    assert body["xcom_entries"][0]["run_id"] == "r1"
    everywhere = await client.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries")
    assert everywhere.json()["total_entries"] == 3
    mapped = await client.get(
        "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", params={"map_index": 0}
    )
    assert [e["task_id"] for e in mapped.json()["xcom_entries"]] == ["split"]


async def test_get_entry_value_native_and_stringified(
    xcoms: ApiServer, client: httpx.AsyncClient
) -> None:
    native = await client.get(f"{BASE}/extract/xcomEntries/return_value")
    assert native.status_code == 200
    assert native.json()["value"] == {"rows": 3}
    assert native.json()["map_index"] == -1
    text = await client.get(f"{BASE}/extract/xcomEntries/stats", params={"stringify": True})
    assert text.json()["value"] == "[1, 2]"
    mapped = await client.get(f"{BASE}/split/xcomEntries/return_value", params={"map_index": 0})
    assert mapped.json()["value"] == "a"


@asyncio_only
async def test_missing_entry_is_404(xcoms: ApiServer, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/extract/xcomEntries/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "XCom entry with key: `nope` not found"}
    unmapped = await client.get(f"{BASE}/split/xcomEntries/return_value")
    assert unmapped.status_code == 404
