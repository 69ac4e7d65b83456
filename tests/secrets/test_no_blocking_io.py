"""No secrets path does blocking disk or network I/O on the event loop's thread."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from airflow_sc.db.engine import open_database
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
from tests.secrets.blocking_io import record_blocking_io
from tests.secrets.conftest import MotoServer

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
