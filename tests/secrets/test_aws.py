"""The AWS backends against moto's server: real HTTP, Airflow's naming conventions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio.to_thread
import pytest

from airflow_sc.secrets import BackendSpec, SecretsSettings, build_chain
from airflow_sc.secrets.aws import SecretsManagerBackend, SystemsManagerParameterStoreBackend
from tests.secrets.conftest import MotoServer

pytest.importorskip("boto3")
pytestmark = pytest.mark.anyio


@pytest.fixture
def run_id() -> str:
    """A unique path segment: the moto server lives for the whole session."""
    return uuid.uuid4().hex[:10]


async def put_secret(moto: MotoServer, name: str, value: str) -> None:
    def put() -> None:
        moto.client("secretsmanager").create_secret(Name=name, SecretString=value)

    await anyio.to_thread.run_sync(put)


async def put_parameter(moto: MotoServer, name: str, value: str) -> None:
    def put() -> None:
        moto.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString")

    await anyio.to_thread.run_sync(put)


def secrets_manager(moto: MotoServer, run_id: str, **kwargs: Any) -> SecretsManagerBackend:
    prefixes = {
        "connections_prefix": f"{run_id}/connections",
        "variables_prefix": f"{run_id}/variables",
        "config_prefix": f"{run_id}/config",
    }
    return SecretsManagerBackend(**{**prefixes, **moto.client_kwargs(), **kwargs})


async def test_secrets_manager_uri_json_and_aliases(moto_server: MotoServer, run_id: str) -> None:
    await put_secret(moto_server, f"{run_id}/connections/by_uri", "postgres://u:p%2Fw@db:5432/x")
    await put_secret(
        moto_server,
        f"{run_id}/connections/by_json",
        json.dumps(
            {
                "engine": "mysql",
                "username": "admin",
                "pass": "s3cret",
                "server": "mysql.internal",
                "database": "shop",
                "port": "3306",
                "extra": {"charset": "utf8"},
            }
        ),
    )
    await put_secret(moto_server, f"{run_id}/variables/region", "eu-west-1")
    await put_secret(moto_server, f"{run_id}/config/sql_alchemy_conn", "sqlite:///x")
    backend = secrets_manager(moto_server, run_id)
    try:
        by_uri = await backend.get_connection("by_uri")
        assert by_uri is not None
        assert (by_uri.conn_type, by_uri.password, by_uri.port) == ("postgres", "p/w", 5432)
        by_json = await backend.get_connection("by_json")
        assert by_json is not None
        assert by_json.to_dict() == {
            "conn_id": "by_json",
            "conn_type": "mysql",
            "description": None,
            "host": "mysql.internal",
            "login": "admin",
            "password": "s3cret",
            "schema": "shop",
            "port": 3306,
            "extra": {"charset": "utf8"},
        }
        assert await backend.get_variable("region") == "eu-west-1"
        assert await backend.get_config("sql_alchemy_conn") == "sqlite:///x"
        assert await backend.get_variable("absent") is None
        assert await backend.get_connection("absent") is None
    finally:
        await backend.aclose()


async def test_lookup_patterns_and_disabled_prefixes_skip_aws(
    moto_server: MotoServer, run_id: str
) -> None:
    await put_secret(moto_server, f"{run_id}/variables/team_a_key", "a")
    await put_secret(moto_server, f"{run_id}/variables/team_b_key", "b")
    await put_secret(moto_server, f"{run_id}/connections/db", "postgres://h")
    backend = secrets_manager(
        moto_server, run_id, variables_lookup_pattern="^TEAM_A", connections_prefix=None
    )
    try:
        assert await backend.get_variable("team_a_key") == "a"  # case-insensitive match
        assert await backend.get_variable("team_b_key") is None
        assert await backend.get_connection("db") is None
    finally:
        await backend.aclose()


async def test_parameter_store_paths(moto_server: MotoServer, run_id: str) -> None:
    await put_parameter(moto_server, f"/{run_id}/connections/smtp", "smtp://mail:25")
    await put_parameter(moto_server, f"/{run_id}/variables/greeting", "hello")
    # Without the leading "/" in the prefix, one is added (SSM paths need it).
    backend = SystemsManagerParameterStoreBackend(
        connections_prefix=f"{run_id}/connections/",
        variables_prefix=f"/{run_id}/variables",
        **moto_server.client_kwargs(),
    )
    try:
        smtp = await backend.get_connection("smtp")
        assert smtp is not None
        assert (smtp.conn_type, smtp.host, smtp.port) == ("smtp", "mail", 25)
        assert await backend.get_variable("greeting") == "hello"
        assert await backend.get_variable("absent") is None
        assert await backend.get_config("anything") is None
    finally:
        await backend.aclose()


async def test_remote_backends_in_the_chain_come_after_env(
    moto_server: MotoServer, run_id: str
) -> None:
    await put_secret(moto_server, f"{run_id}/variables/shared", "from-secrets-manager")
    await put_secret(moto_server, f"{run_id}/variables/remote_only", "from-secrets-manager")
    await put_parameter(moto_server, f"/{run_id}/variables/ssm_only", "from-ssm")
    settings = SecretsSettings(
        order=("environment", "remote"),
        backends=(
            BackendSpec(
                "airflow_sc.secrets.aws.SecretsManagerBackend",
                {"variables_prefix": f"{run_id}/variables", **moto_server.client_kwargs()},
            ),
            BackendSpec(
                "airflow_sc.secrets.aws.SystemsManagerParameterStoreBackend",
                {"variables_prefix": f"/{run_id}/variables", **moto_server.client_kwargs()},
            ),
        ),
    )
    chain = build_chain(settings, environ={"AIRFLOW_VAR_SHARED": "from-env"})
    try:
        assert [await chain.get_variable(k) for k in ("shared", "remote_only", "ssm_only")] == [
            "from-env",
            "from-secrets-manager",
            "from-ssm",
        ]
        assert await chain.get_variable("nowhere") is None
    finally:
        await chain.aclose()


async def test_an_unreachable_service_is_an_error_not_a_miss() -> None:
    from airflow_sc.secrets import SecretsBackendError

    backend = SecretsManagerBackend(
        endpoint_url="http://127.0.0.1:9",  # discard port: connection refused
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        max_attempts=1,
        connect_timeout=1,
    )
    try:
        with pytest.raises(SecretsBackendError):
            await backend.get_variable("x")
    finally:
        await backend.aclose()
