"""Pools on a real server and database: CRUD, slot usage, bulk, default_pool rules."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import insert

from airflow_sc.db import Transaction
from airflow_sc.db.models import dag_run, task_instance
from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]


async def test_default_pool_is_listed_and_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v2/pools")).json()
    assert listed["total_entries"] == 1
    default = listed["pools"][0]
    assert default["name"] == "default_pool"
    assert default["slots"] == 128
    assert default["open_slots"] == 128
    refused = await client.delete("/api/v2/pools/default_pool")
    assert refused.status_code == 400
    assert refused.json() == {"detail": "Default Pool can't be deleted"}
    renamed = await client.patch("/api/v2/pools/default_pool", json={"pool": "other"})
    assert renamed.status_code == 400
    resized = await client.patch("/api/v2/pools/default_pool", json={"slots": 10})
    assert resized.json()["slots"] == 10


async def test_pool_crud(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v2/pools", json={"name": "gpu", "slots": 2, "description": "GPUs"}
    )
    assert created.status_code == 201
    assert created.json()["open_slots"] == 2
    again = await client.post("/api/v2/pools", json={"name": "gpu", "slots": 3})
    assert again.status_code == 409
    bad = await client.post("/api/v2/pools", json={"name": "x", "slots": "many"})
    assert bad.status_code == 422
    patched = await client.patch(
        "/api/v2/pools/gpu",
        params={"update_mask": ["slots"]},
        json={"slots": 4, "description": "ignored"},
    )
    assert patched.status_code == 200
    assert (patched.json()["slots"], patched.json()["description"]) == (4, "GPUs")
    renamed = await client.patch("/api/v2/pools/gpu", json={"pool": "gpus"})
    assert renamed.json()["name"] == "gpus"
    assert (await client.get("/api/v2/pools/gpu")).status_code == 404
    assert (await client.delete("/api/v2/pools/gpus")).status_code == 204
    assert (await client.delete("/api/v2/pools/gpus")).status_code == 404
    assert (await client.patch("/api/v2/pools/nope", json={"slots": 1})).status_code == 404


async def test_slot_usage_counts_task_instances(
    api_server: ApiServer, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v2/pools", json={"name": "io", "slots": 5, "include_deferred": True})

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(dag_run).values(
                dag_id="d",
                run_id="r",
                state="running",
                run_type="manual",
                run_after=api_server.clock(),
            )
        )
        await tx.execute(
            insert(task_instance),
            [
                {
                    "id": f"00000000-0000-0000-0000-00000000000{i}",
                    "dag_id": "d",
                    "run_id": "r",
                    "task_id": f"t{i}",
                    "state": state,
                    "pool": "io",
                    "pool_slots": 1,
                }
                for i, state in enumerate(["running", "running", "queued", "deferred", "scheduled"])
            ],
        )

    await api_server.db.run(body)
    pool = (await client.get("/api/v2/pools/io")).json()
    assert pool["running_slots"] == 2
    assert pool["queued_slots"] == 1
    assert pool["deferred_slots"] == 1
    assert pool["scheduled_slots"] == 1
    assert pool["occupied_slots"] == 4
    assert pool["open_slots"] == 1


async def test_bulk_pools(client: httpx.AsyncClient) -> None:
    await client.post("/api/v2/pools", json={"name": "a", "slots": 1})
    response = await client.patch(
        "/api/v2/pools",
        json={
            "actions": [
                {
                    "action": "create",
                    "entities": [{"name": "a", "slots": 9}, {"name": "b", "slots": 2}],
                },
                {
                    "action": "create",
                    "action_on_existence": "skip",
                    "entities": [{"name": "a", "slots": 9}, {"name": "c", "slots": 3}],
                },
                {
                    "action": "update",
                    "entities": [{"name": "c", "slots": 30}],
                    "update_mask": ["slots"],
                },
                {"action": "delete", "entities": ["zzz"], "action_on_non_existence": "skip"},
                {"action": "delete", "entities": ["default_pool"]},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["create"]["success"] == ["c"]
    assert [e["status_code"] for e in body["create"]["errors"]] == [409]
    assert body["update"] == {"success": ["c"], "errors": []}
    assert body["delete"]["success"] == []
    assert body["delete"]["errors"][0]["status_code"] == 400
    pools = {p["name"]: p["slots"] for p in (await client.get("/api/v2/pools")).json()["pools"]}
    assert pools == {"default_pool": 128, "a": 1, "c": 30}
    overwrite = await client.patch(
        "/api/v2/pools",
        json={
            "actions": [
                {
                    "action": "create",
                    "action_on_existence": "overwrite",
                    "entities": [{"name": "a", "slots": 7}],
                }
            ]
        },
    )
    assert overwrite.json()["create"]["success"] == ["a"]
    assert (await client.get("/api/v2/pools/a")).json()["slots"] == 7
    unknown = await client.patch("/api/v2/pools", json={"actions": [{"action": "explode"}]})
    assert unknown.status_code == 422


async def test_pools_order_and_pattern(client: httpx.AsyncClient) -> None:
    for name, slots in (("beta", 3), ("alpha", 5)):
        await client.post("/api/v2/pools", json={"name": name, "slots": slots})
    by_name = (await client.get("/api/v2/pools", params={"order_by": "-name"})).json()
    assert [p["name"] for p in by_name["pools"]] == ["default_pool", "beta", "alpha"]
    # Airflow sorts pools by id, pool or name only.
    by_slots = await client.get("/api/v2/pools", params={"order_by": "-slots"})
    assert by_slots.status_code == 400
    assert "supported: id, name, pool" in by_slots.json()["detail"]
    pattern = (await client.get("/api/v2/pools", params={"pool_name_pattern": "ALP"})).json()
    assert [p["name"] for p in pattern["pools"]] == ["alpha"]
