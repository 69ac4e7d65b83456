"""No secrets path does blocking disk or network I/O on the event loop's thread."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from airflow_sc.db.engine import open_database
from airflow_sc.executors.inprocess import SnapshotTaskClient
from airflow_sc.sdk import Connection as TaskConnection
from airflow_sc.sdk import Variable
from airflow_sc.sdk._task_client import task_client_active
from airflow_sc.secrets import (
    BackendSpec,
    Connection,
    MetastoreBackend,
    SecretsCipher,
    SecretsMasker,
    SecretsSettings,
    generate_fernet_key,
    open_secrets,
)
from airflow_sc.task_runner.http_client import ExecutionApiClient
from tests.secrets.blocking_io import record_blocking_io
from tests.secrets.conftest import MotoServer
from tests.secrets.task_world import add_ti, open_secrets_world

pytestmark = pytest.mark.anyio


async def test_the_detector_sees_blocking_calls_on_the_loop_thread(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with record_blocking_io() as recorder:
            (tmp_path / "f").write_text("x")
            with socket.create_connection(server.getsockname(), timeout=1):
                pass
    assert {event for event, _ in recorder.events} >= {"open", "socket.connect"}


async def test_lookups_through_every_backend_stay_off_the_loop_thread(
    database_url: str, moto_server: MotoServer, tmp_path: Path
) -> None:
    pytest.importorskip("boto3")
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"file_conn": "http://file"}))
    variables = tmp_path / "variables.env"
    variables.write_text("file_var=1\n")
    settings = SecretsSettings(
        variables_file=variables,
        connections_file=connections,
        backends=(
            BackendSpec(
                "airflow_sc.secrets.aws.SecretsManagerBackend", moto_server.client_kwargs()
            ),
            BackendSpec(
                "airflow_sc.secrets.aws.SystemsManagerParameterStoreBackend",
                moto_server.client_kwargs(),
            ),
        ),
    )
    cipher = SecretsCipher(generate_fernet_key())
    async with open_database(database_url) as db:
        await MetastoreBackend(db, cipher).set_connection(
            Connection(conn_id="db_conn", conn_type="postgres", password="pw-123456")
        )
        await MetastoreBackend(db, cipher).set_variable("db_var", "2")
        async with open_secrets(
            settings,
            environ={"AIRFLOW_CONN_ENV_CONN": "http://env"},
            database=db,
            cipher=cipher,
            masker=SecretsMasker(),
        ) as secrets:
            with record_blocking_io() as recorder:
                # Cold: every lookup reaches its backend; misses go all the way to AWS.
                for conn_id in ("env_conn", "file_conn", "db_conn", "nowhere"):
                    await secrets.get_connection(conn_id)
                for key in ("file_var", "db_var", "nowhere"):
                    await secrets.get_variable(key)
                await secrets.get_config("core/fernet_key")
                # Warm: served from the cache.
                await secrets.get_connection("db_conn")
    assert recorder.events == []


async def test_task_secrets_access_from_async_tasks_stays_off_the_loop_thread(
    database_url: str,
) -> None:
    """`Variable.aget/aset/adelete` and `Connection.aget`: through the in-process executor's
    service (database, cache, cipher) and through a worker's sync HTTP client."""

    async def use_secrets(tag: str) -> None:
        assert (await TaskConnection.aget("warehouse")).host == "db.local"
        assert await Variable.aget("api_token") == "tok-1234567890"
        await Variable.aset(f"{tag}_key", "v")
        assert await Variable.aget(f"{tag}_key") == "v"
        assert await Variable.adelete(f"{tag}_key")

    async with open_database(database_url) as db, open_secrets_world(db) as world:
        ti_id = await add_ti(world.db, "read_async")
        snapshot = SnapshotTaskClient("read_async", -1, {}, service=world.service)
        http = ExecutionApiClient(
            world.url, ti_id=ti_id, token=world.dispatcher.tokens.issue(ti_id)
        )
        try:
            with record_blocking_io() as recorder:
                with task_client_active(snapshot):
                    await use_secrets("inprocess")
                with task_client_active(http):
                    await use_secrets("worker")
        finally:
            http.close()
    assert recorder.events == []
