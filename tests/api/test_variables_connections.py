"""Variables and connections: CRUD, bulk, encryption at rest, masking in responses."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from airflow_sc.db import Transaction
from airflow_sc.db.models import connection, variable
from airflow_sc.secrets import MetastoreBackend
from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]


async def test_variable_crud_and_storage(api_server: ApiServer, client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v2/variables", json={"key": "region", "value": "eu-west-1", "description": "where"}
    )
    assert created.status_code == 201
    assert created.json() == {
        "key": "region",
        "value": "eu-west-1",
        "description": "where",
        "is_encrypted": True,
        "team_name": None,
    }
    assert (
        await client.post("/api/v2/variables", json={"key": "region", "value": "x"})
    ).status_code == 409

    async def stored(tx: Transaction) -> str:
        return str(await tx.scalar(select(variable.c.val).where(variable.c.key == "region")))

    assert "eu-west-1" not in await api_server.db.run(stored)  # encrypted at rest
    backend = MetastoreBackend(api_server.db, api_server.ctx.require_cipher())
    assert await backend.get_variable("region") == "eu-west-1"  # and readable by tasks

    patched = await client.patch(
        "/api/v2/variables/region",
        params={"update_mask": "value"},
        json={"key": "region", "value": {"zones": [1, 2]}, "description": "ignored"},
    )
    assert patched.status_code == 200
    assert json.loads(patched.json()["value"]) == {"zones": [1, 2]}
    assert patched.json()["description"] == "where"
    mismatch = await client.patch("/api/v2/variables/region", json={"key": "other", "value": 1})
    assert mismatch.status_code == 400
    assert (await client.delete("/api/v2/variables/region")).status_code == 204
    assert (await client.get("/api/v2/variables/region")).status_code == 404
    assert (await client.delete("/api/v2/variables/region")).status_code == 404


async def test_variables_with_sensitive_keys_are_masked(client: httpx.AsyncClient) -> None:
    await client.post("/api/v2/variables", json={"key": "api_password", "value": "hunter22"})
    await client.post(
        "/api/v2/variables",
        json={"key": "settings", "value": {"user": "bob", "token": "abc123xyz"}},
    )
    listed = (await client.get("/api/v2/variables", params={"order_by": "key"})).json()
    assert listed["total_entries"] == 2
    values = {v["key"]: v["value"] for v in listed["variables"]}
    assert values["api_password"] == "***"
    assert json.loads(values["settings"]) == {"user": "bob", "token": "***"}
    assert "hunter22" not in json.dumps(listed)
    prefix = (
        await client.get("/api/v2/variables", params={"variable_key_prefix_pattern": "api"})
    ).json()
    assert [v["key"] for v in prefix["variables"]] == ["api_password"]


async def test_bulk_variables(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/v2/variables",
        json={
            "actions": [
                {
                    "action": "create",
                    "entities": [{"key": "a", "value": "1"}, {"key": "b", "value": 2}],
                },
                {"action": "update", "entities": [{"key": "missing", "value": "x"}]},
                {"action": "delete", "entities": ["b"]},
            ]
        },
    )
    body = response.json()
    assert body["create"]["success"] == ["a", "b"]
    assert body["update"]["errors"][0]["status_code"] == 404
    assert body["delete"]["success"] == ["b"]
    keys = [v["key"] for v in (await client.get("/api/v2/variables")).json()["variables"]]
    assert keys == ["a"]


CONN = {
    "connection_id": "warehouse",
    "conn_type": "postgres",
    "host": "db.internal",
    "login": "etl",
    "password": "p4ssw0rd!",
    "schema": "analytics",
    "port": 5432,
    "extra": json.dumps({"sslmode": "require", "private_key": "-----BEGIN KEY-----"}),
}


async def test_connection_crud_never_shows_secrets(
    api_server: ApiServer, client: httpx.AsyncClient
) -> None:
    created = await client.post("/api/v2/connections", json=CONN)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["password"] == "***"
    assert shown["schema"] == "analytics"
    assert json.loads(shown["extra"]) == {"sslmode": "require", "private_key": "***"}
    assert (await client.post("/api/v2/connections", json=CONN)).status_code == 409

    async def stored(tx: Transaction) -> tuple[str, str]:
        row = (await tx.execute(select(connection.c.password, connection.c.extra))).one()
        return row.password, row.extra

    password, extra = await api_server.db.run(stored)
    assert "p4ssw0rd!" not in password
    assert "BEGIN KEY" not in extra
    backend = MetastoreBackend(api_server.db, api_server.ctx.require_cipher())
    conn = await backend.get_connection("warehouse")
    assert conn is not None
    assert conn.password == "p4ssw0rd!"

    listed = (await client.get("/api/v2/connections")).json()
    assert listed["total_entries"] == 1
    assert "p4ssw0rd!" not in json.dumps(listed)

    patched = await client.patch(
        "/api/v2/connections/warehouse",
        params={"update_mask": ["port"]},
        json={**CONN, "port": 6432, "host": "ignored"},
    )
    assert (patched.json()["port"], patched.json()["host"]) == (6432, "db.internal")
    conn = await backend.get_connection("warehouse")
    assert conn is not None
    assert conn.password == "p4ssw0rd!"  # untouched by a masked update

    bad_extra = await client.post(
        "/api/v2/connections", json={"connection_id": "x", "conn_type": "http", "extra": "[1]"}
    )
    assert bad_extra.status_code == 422
    assert (await client.delete("/api/v2/connections/warehouse")).status_code == 204
    assert (await client.get("/api/v2/connections/warehouse")).status_code == 404


async def test_bulk_connections(client: httpx.AsyncClient) -> None:
    await client.post("/api/v2/connections", json=CONN)
    response = await client.patch(
        "/api/v2/connections",
        json={
            "actions": [
                {
                    "action": "create",
                    "action_on_existence": "overwrite",
                    "entities": [
                        {**CONN, "host": "new.internal"},
                        {"connection_id": "http_api", "conn_type": "http"},
                    ],
                },
                {"action": "delete", "entities": ["nope"], "action_on_non_existence": "fail"},
            ]
        },
    )
    body = response.json()
    assert sorted(body["create"]["success"]) == ["http_api", "warehouse"]
    assert body["delete"]["errors"][0]["status_code"] == 404
    got = (await client.get("/api/v2/connections/warehouse")).json()
    assert got["host"] == "new.internal"
    assert got["password"] == "***"


async def test_api_writes_reach_the_process_secrets_cache_at_once(
    api_server: ApiServer, client: httpx.AsyncClient
) -> None:
    # Tasks of this process (execution API, in-process executor) read through this cache.
    secrets = api_server.ctx.require_secrets()
    assert await secrets.get_variable("threshold") is None  # cached as absent
    await client.post("/api/v2/variables", json={"key": "threshold", "value": "5"})
    assert await secrets.get_variable("threshold") == "5"
    await client.patch("/api/v2/variables/threshold", json={"key": "threshold", "value": "6"})
    assert await secrets.get_variable("threshold") == "6"
    bulk = {"actions": [{"action": "update", "entities": [{"key": "threshold", "value": "7"}]}]}
    assert (await client.patch("/api/v2/variables", json=bulk)).status_code == 200
    assert await secrets.get_variable("threshold") == "7"
    await client.delete("/api/v2/variables/threshold")
    assert await secrets.get_variable("threshold") is None

    await client.post("/api/v2/connections", json={"connection_id": "wh", "conn_type": "http"})
    assert (await secrets.get_connection("wh")) is not None
    await client.patch(
        "/api/v2/connections/wh", json={"connection_id": "wh", "conn_type": "http", "host": "h2"}
    )
    found = await secrets.get_connection("wh")
    assert found is not None
    assert found.host == "h2"
    await client.delete("/api/v2/connections/wh")
    assert await secrets.get_connection("wh") is None
