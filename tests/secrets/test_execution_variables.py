"""The execution API's variable writes (`PUT` / `DELETE /variables/{key}`): encrypted in
the metastore, seen by the next read at once (the cache forgets the key), refused without
a valid try token or with a malformed body."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from airflow_sc.db.engine import open_database
from airflow_sc.execution.service import ExecutionService
from airflow_sc.secrets import MetastoreBackend
from tests.secrets.task_world import SecretsWorld, add_ti, open_secrets_world, stored_variable

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[SecretsWorld]:
    async with open_database(database_url) as db, open_secrets_world(db) as world:
        yield world


@pytest.fixture
async def http(world: SecretsWorld) -> AsyncIterator[httpx.AsyncClient]:
    ti_id = await add_ti(world.db, "write_variables")
    token = world.dispatcher.tokens.issue(ti_id)
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=world.url, headers=headers) as client:
        yield client


async def test_a_variable_set_by_a_task_is_stored_encrypted_and_read_back_at_once(
    world: SecretsWorld, http: httpx.AsyncClient
) -> None:
    # Read first, so the (negative) answer is cached: the write must replace it.
    assert (await http.get("/variables/region")).status_code == 404

    response = await http.put("/variables/region", json={"value": "eu-west-1"})
    assert response.status_code == 201
    assert (await http.get("/variables/region")).json() == {"key": "region", "value": "eu-west-1"}
    row = await stored_variable(world.db, "region")
    assert row.is_encrypted
    assert "eu-west-1" not in row.val
    assert row.description is None

    # Replacing it (with a description) is seen at once too, though the value was cached.
    body = {"value": "us-east-2", "description": "where the data lives"}
    assert (await http.put("/variables/region", json=body)).status_code == 201
    assert (await http.get("/variables/region")).json()["value"] == "us-east-2"
    record = await MetastoreBackend(world.db, world.cipher).get_variable_record("region")
    assert record is not None
    assert (record.value, record.description) == ("us-east-2", "where the data lives")


async def test_deleting_a_variable_forgets_it_and_a_second_delete_is_404(
    world: SecretsWorld, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/variables/api_token")).status_code == 200  # now cached

    assert (await http.delete("/variables/api_token")).status_code == 204
    assert (await http.get("/variables/api_token")).status_code == 404
    assert await stored_variable(world.db, "api_token") is None
    second = await http.delete("/variables/api_token")
    assert second.status_code == 404
    assert second.json() == {"detail": "Variable 'api_token' does not exist"}


async def test_a_write_shadowed_by_the_environment_is_stored_with_a_warning(
    world: SecretsWorld, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_sc.secrets.writes"):
        assert (await http.put("/variables/user", json={"value": "bob"})).status_code == 201

    # The environment is asked first (Airflow's order): reads still answer its value.
    assert (await http.get("/variables/user")).json()["value"] == "alice"
    assert await MetastoreBackend(world.db, world.cipher).get_variable("user") == "bob"
    assert "also defined in the environment secrets backend" in caplog.text


async def test_malformed_writes_are_400(http: httpx.AsyncClient) -> None:
    for body, detail in [
        ({}, "value is required and must be a string"),
        ({"value": 3}, "value is required and must be a string"),
        ({"value": "x", "description": 1}, "description must be a string"),
    ]:
        response = await http.put("/variables/k", json=body)
        assert response.status_code == 400
        assert response.json() == {"detail": detail}


async def test_writes_need_a_valid_try_token(world: SecretsWorld) -> None:
    async with httpx.AsyncClient(base_url=world.url) as anonymous:
        assert (await anonymous.put("/variables/k", json={"value": "v"})).status_code == 401
        forged = {"authorization": "Bearer not-a-token"}
        assert (await anonymous.delete("/variables/k", headers=forged)).status_code == 401
    assert await stored_variable(world.db, "k") is None


async def test_a_service_without_a_key_refuses_writes(world: SecretsWorld) -> None:
    service = ExecutionService(world.db, secrets=world.service.secrets)
    with pytest.raises(RuntimeError, match="cipher is unset"):
        await service.set_variable("k", "v", description=None)
