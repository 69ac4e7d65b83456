"""The `[secrets]` settings section: typed, validated, and used where the chain is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_sc.api.context import ApiContext, prepare_context
from airflow_sc.config import ConfigError, load_settings
from airflow_sc.db.engine import open_database
from airflow_sc.secrets import (
    DEFAULT_SENSITIVE_KEYS,
    BackendSpec,
    Connection,
    MetastoreBackend,
    SecretsCache,
    SecretsChain,
    SecretsSettings,
)


def test_the_default_section_gives_the_default_chain(tmp_path: Path) -> None:
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)})
    assert SecretsSettings.from_section(settings.secrets) == SecretsSettings()


def test_toml_and_environment_configure_the_chain(tmp_path: Path) -> None:
    (tmp_path / "airflow-sc.toml").write_text(
        "[secrets]\n"
        'order = "local_file, metastore ,remote"\n'
        'connections_file = "~/conns.yaml"\n'
        'backend = "airflow_sc.secrets.aws.SecretsManagerBackend"\n'
        'backend_kwargs = \'{"connections_prefix": "af/c", "region_name": "eu-west-1"}\'\n'
        "cache_ttl = 5\n"
        'sensitive_var_conn_names = "DSN, credentials"\n'
    )
    environ = {
        "AIRFLOW_SC_HOME": str(tmp_path),
        "AIRFLOW_SC__SECRETS__NEGATIVE_CACHE_TTL": "0",
        "AIRFLOW_SC__SECRETS__MIN_MASK_LENGTH": "8",
    }
    chain = SecretsSettings.from_section(load_settings(environ).secrets)

    assert chain.order == ("local_file", "metastore", "remote")
    assert chain.connections_file == Path("~/conns.yaml").expanduser()
    assert chain.variables_file is None
    assert chain.backends == (
        BackendSpec(
            "airflow_sc.secrets.aws.SecretsManagerBackend",
            {"connections_prefix": "af/c", "region_name": "eu-west-1"},
        ),
    )
    assert (chain.cache_ttl, chain.negative_cache_ttl, chain.min_mask_length) == (5.0, 0.0, 8)
    assert chain.sensitive_keys == DEFAULT_SENSITIVE_KEYS | {"dsn", "credentials"}
    masker = chain.masker()
    assert masker.redact({"my_dsn": "x", "host": "h"}) == {"my_dsn": "***", "host": "h"}
    assert masker.min_length == 8


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ORDER", "environment,vault", "secrets.order"),
        ("ORDER", "metastore,metastore", "secrets.order"),
        ("BACKEND", "NoModule", "secrets.backend"),
        ("BACKEND_KWARGS", "[1, 2]", "secrets.backend_kwargs"),
        ("BACKEND_KWARGS", "{not json", "secrets.backend_kwargs"),
        ("CACHE_TTL", "-1", "secrets.cache_ttl"),
        ("MAX_NEGATIVE_ENTRIES", "-5", "secrets.max_negative_entries"),
        ("MIN_MASK_LENGTH", "0", "secrets.min_mask_length"),
        ("CACHE_TTL", "soon", "secrets.cache_ttl"),
    ],
)
def test_invalid_values_stop_start_up_naming_the_key(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    environ = {"AIRFLOW_SC_HOME": str(tmp_path), f"AIRFLOW_SC__SECRETS__{key}": value}
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(environ)
    if key == "BACKEND_KWARGS":
        assert value not in str(caught.value)  # it may hold credentials


@pytest.mark.anyio
async def test_the_api_context_builds_the_configured_cached_chain_once(
    tmp_path: Path, sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"from_file": "http://file.example"}))
    monkeypatch.setenv("AIRFLOW_CONN_FROM_ENV", "http://env.example")
    settings = load_settings(
        {
            "AIRFLOW_SC_HOME": str(tmp_path),
            "AIRFLOW_SC__SECRETS__ORDER": "local_file,metastore",
            "AIRFLOW_SC__SECRETS__CONNECTIONS_FILE": str(connections),
            "AIRFLOW_SC__SECRETS__SENSITIVE_VAR_CONN_NAMES": "dsn",
        }
    )
    async with open_database(sqlite_database_url) as db:
        ctx = await prepare_context(ApiContext(settings=settings, db=db))
        secrets = ctx.require_secrets()
        assert isinstance(secrets, SecretsCache)
        assert isinstance(secrets.backend, SecretsChain)
        assert [b.name for b in secrets.backend.backends] == ["local_file", "metastore"]
        assert ctx.cipher is not None
        await MetastoreBackend(db, ctx.cipher).set_connection(
            Connection("in_db", "postgres", password="db-password-1")
        )

        assert (await secrets.get_connection("from_file")) is not None
        assert await secrets.get_connection("from_env") is None  # not in the order
        assert (await secrets.get_connection("in_db")) is not None
        # What the chain returned is masked; the configured key name hides values too.
        assert ctx.masker.mask("db-password-1") == "***"
        assert ctx.masker.redact({"dsn": "postgres://x"}) == {"dsn": "***"}
        # Prepared again (another component), the same chain and cache are kept.
        assert (await prepare_context(ctx)).secrets is secrets
