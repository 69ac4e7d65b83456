"""Each backend on its own, then the chain: env beats file beats metastore."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.queries import secrets as queries
from airflow_sc.secrets import (
    MASK,
    Connection,
    DecryptionError,
    EnvironmentBackend,
    LocalFileBackend,
    MetastoreBackend,
    SecretsCipher,
    SecretsFileError,
    SecretsMasker,
    SecretsSettings,
    build_chain,
    generate_fernet_key,
    open_secrets,
    rotate_fernet_key,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


# -- environment -----------------------------------------------------------------------


async def test_environment_reads_both_spellings_and_prefers_airflow_sc() -> None:
    backend = EnvironmentBackend(
        {
            "AIRFLOW_SC_CONN_MY_DB": "postgresql://u:p%40ss@db:5432/app",
            "AIRFLOW_CONN_MY_DB": "mysql://ignored",
            "AIRFLOW_CONN_LEGACY": '{"conn_type": "http", "host": "legacy.example"}',
            "AIRFLOW_VAR_REGION": "eu-west-1",
            "AIRFLOW_SC_VAR_SHARED": "new",
            "AIRFLOW_VAR_SHARED": "old",
        }
    )
    conn = await backend.get_connection("my_db")
    assert conn is not None
    assert (conn.conn_id, conn.conn_type, conn.password, conn.schema) == (
        "my_db",
        "postgres",
        "p@ss",
        "app",
    )
    legacy = await backend.get_connection("legacy")
    assert legacy is not None
    assert legacy.host == "legacy.example"
    assert await backend.get_variable("region") == "eu-west-1"
    assert await backend.get_variable("shared") == "new"
    assert await backend.get_variable("absent") is None


async def test_environment_is_read_once_at_construction() -> None:
    environ = {"AIRFLOW_SC_VAR_X": "1"}
    backend = EnvironmentBackend(environ)
    environ["AIRFLOW_SC_VAR_X"] = "2"
    assert await backend.get_variable("x") == "1"


# -- local files -----------------------------------------------------------------------


async def test_local_json_files(tmp_path: Path) -> None:
    variables = tmp_path / "variables.json"
    variables.write_text(json.dumps({"plain": "text", "structured": {"a": [1, 2]}}))
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            {
                "by_uri": "http://h:80",
                "by_fields": {"conn_type": "postgres", "host": "db", "extra": {"sslmode": "on"}},
                "by_dejson": {"conn_type": "aws", "extra_dejson": {"region": "eu"}},
            }
        )
    )
    backend = LocalFileBackend(variables_file=variables, connections_file=connections)
    assert await backend.get_variable("plain") == "text"
    assert json.loads(await backend.get_variable("structured") or "") == {"a": [1, 2]}
    by_uri = await backend.get_connection("by_uri")
    by_fields = await backend.get_connection("by_fields")
    by_dejson = await backend.get_connection("by_dejson")
    assert by_uri is not None
    assert by_uri.port == 80
    assert by_fields is not None
    assert by_fields.extra_dejson == {"sslmode": "on"}
    assert by_dejson is not None
    assert by_dejson.extra_dejson == {"region": "eu"}


async def test_local_yaml_and_env_files(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    yaml_file = tmp_path / "connections.yaml"
    yaml_file.write_text("db:\n  conn_type: postgres\n  host: db.internal\n  port: 5432\n")
    env_file = tmp_path / "variables.env"
    env_file.write_text("# comment\n\nGREETING = hello=world\n")
    backend = LocalFileBackend(variables_file=env_file, connections_file=yaml_file)
    conn = await backend.get_connection("db")
    assert conn is not None
    assert (conn.host, conn.port) == ("db.internal", 5432)
    assert await backend.get_variable("GREETING") == "hello=world"


async def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "variables.json"
    path.write_text('{"x": "1"}')
    backend = LocalFileBackend(variables_file=path)
    assert await backend.get_variable("x") == "1"
    path.write_text('{"x": "22"}')
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert await backend.get_variable("x") == "22"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "v.env",
            "GOOD=1\nno equals sign\n=empty key\n",
            r"v.env:2: expected KEY=VALUE.*:3: the key",
        ),
        ("v.env", "A=1\nA=2\n", "defined more than once"),
        ("v.json", "[1, 2]", "must hold an object"),
        ("v.json", "{oops", "invalid JSON"),
        ("v.txt", "A=1", "unsupported file extension"),
    ],
)
async def test_broken_files_say_where(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SecretsFileError, match=message):
        await LocalFileBackend(variables_file=path).get_variable("A")


async def test_a_missing_file_is_an_error_not_an_empty_backend(tmp_path: Path) -> None:
    with pytest.raises(SecretsFileError, match="cannot read"):
        await LocalFileBackend(connections_file=tmp_path / "nope.json").get_connection("x")


# -- metastore -------------------------------------------------------------------------


async def test_metastore_stores_ciphertext_and_reads_plaintext(db: Database) -> None:
    backend = MetastoreBackend(db, SecretsCipher(generate_fernet_key()))
    conn = Connection(
        conn_id="warehouse",
        conn_type="postgres",
        host="wh",
        login="etl",
        password="hunter2-and-more",
        extra=json.dumps({"sslmode": "require"}),
    )
    await backend.set_connection(conn)
    await backend.set_variable("api_token", "tok-123456", "the token")
    assert await backend.get_connection("warehouse") == conn
    assert await backend.get_variable("api_token") == "tok-123456"

    row = await queries.get_connection(db, "warehouse")
    assert row is not None
    assert row.is_encrypted
    assert row.is_extra_encrypted
    assert "hunter2" not in (row.password or "")
    assert "sslmode" not in (row.extra or "")
    var_row = await queries.get_variable(db, "api_token")
    assert var_row is not None
    assert var_row.val != "tok-123456"

    await backend.set_variable("api_token", "tok-replaced")
    assert await backend.get_variable("api_token") == "tok-replaced"
    assert await backend.delete_variable("api_token")
    assert not await backend.delete_variable("api_token")
    assert await backend.get_variable("api_token") is None


async def test_a_wrong_key_is_a_clear_error(db: Database) -> None:
    await MetastoreBackend(db, SecretsCipher(generate_fernet_key())).set_variable("k", "value")
    other = MetastoreBackend(db, SecretsCipher(generate_fernet_key()))
    with pytest.raises(DecryptionError, match="variable 'k'"):
        await other.get_variable("k")


async def test_rotation_moves_every_row_to_the_new_key(db: Database) -> None:
    old, new = generate_fernet_key(), generate_fernet_key()
    before = MetastoreBackend(db, SecretsCipher(old))
    for i in range(3):
        await before.set_connection(
            Connection(conn_id=f"c{i}", conn_type="http", password=f"pw-{i}")
        )
        await before.set_variable(f"v{i}", f"value-{i}")
    # A row written in plaintext by another tool gets encrypted by the rotation.
    await queries.put_variable(db, queries.StoredVariable("plain", "visible", None, False))

    only_new = MetastoreBackend(db, SecretsCipher(new))
    with pytest.raises(DecryptionError):
        await only_new.get_variable("v0")
    both = MetastoreBackend(db, SecretsCipher(f"{new},{old}"))
    assert await both.get_variable("v0") == "value-0"  # the old key still decrypts

    result = await rotate_fernet_key(db, SecretsCipher(f"{new},{old}"))
    assert (result.connections, result.variables) == (3, 4)
    assert [c.password for c in await only_new.list_connections()] == ["pw-0", "pw-1", "pw-2"]
    assert {v.key: v.value for v in await only_new.list_variables()} == {
        "plain": "visible",
        "v0": "value-0",
        "v1": "value-1",
        "v2": "value-2",
    }
    with pytest.raises(DecryptionError):
        await MetastoreBackend(db, SecretsCipher(old)).get_variable("v0")


# -- the chain -------------------------------------------------------------------------


async def test_chain_order_env_then_file_then_metastore(db: Database, tmp_path: Path) -> None:
    cipher = SecretsCipher(generate_fernet_key())
    metastore = MetastoreBackend(db, cipher)
    for conn_id in ("a", "b", "c"):
        await metastore.set_connection(
            Connection(conn_id=conn_id, conn_type="db", host="metastore")
        )
    for key in ("x", "y", "z"):
        await metastore.set_variable(key, "metastore")
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"a": "db://file", "b": "db://file"}))
    variables = tmp_path / "variables.env"
    variables.write_text("x=file\ny=file\n")
    environ = {"AIRFLOW_SC_CONN_A": "db://env", "AIRFLOW_VAR_X": "env"}
    settings = SecretsSettings(variables_file=variables, connections_file=connections)

    chain = build_chain(settings, environ=environ, database=db, cipher=cipher)
    hosts = [(await chain.get_connection(c)) for c in ("a", "b", "c")]
    assert [h.host if h else None for h in hosts] == ["env", "file", "metastore"]
    assert [await chain.get_variable(k) for k in ("x", "y", "z", "w")] == [
        "env",
        "file",
        "metastore",
        None,
    ]


async def test_what_the_chain_returns_is_masked_afterwards(db: Database) -> None:
    masker = SecretsMasker()
    environ = {
        "AIRFLOW_CONN_DB": "postgres://u:correct-horse@db/app",
        "AIRFLOW_VAR_SLACK_TOKEN": "xoxb-token-value",
        "AIRFLOW_VAR_REGION": "eu-west-1",
    }
    settings = SecretsSettings(order=("environment", "metastore"))
    cipher = SecretsCipher(generate_fernet_key())
    async with open_secrets(
        settings, environ=environ, database=db, cipher=cipher, masker=masker
    ) as secrets:
        await secrets.get_connection("db")
        await secrets.get_variable("slack_token")
        await secrets.get_variable("region")
    line = "password=correct-horse token=xoxb-token-value region=eu-west-1"
    assert masker.mask(line) == f"password={MASK} token={MASK} region=eu-west-1"


async def test_a_chain_with_the_metastore_needs_a_database() -> None:
    with pytest.raises(ValueError, match="no database"):
        build_chain(SecretsSettings(), environ={})
