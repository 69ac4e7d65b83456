"""`airflow-sc variables|connections|rotate-fernet-key` against a real SQLite metastore."""

import json
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from airflow_sc.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("AIRFLOW_SC__", "AIRFLOW_SC_CONN_", "AIRFLOW_SC_VAR_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    return tmp_path


def out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_variables_round_trip_and_masking(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variables", "set", "region", "eu-west-1"]) == 0
    assert main(["variables", "set", "cfg", '{"a": [1, 2]}', "--json"]) == 0
    assert main(["variables", "set", "api_token", "t0ps3cret-value"]) == 0
    out(capsys)
    assert main(["variables", "get", "region"]) == 0
    assert out(capsys).strip() == "eu-west-1"
    assert main(["variables", "get", "cfg", "--json"]) == 0
    assert json.loads(out(capsys)) == {"a": [1, 2]}
    assert main(["variables", "get", "api_token"]) == 0
    assert out(capsys).strip() == "***"
    assert main(["variables", "get", "api_token", "--reveal"]) == 0
    assert out(capsys).strip() == "t0ps3cret-value"
    assert main(["variables", "list", "--json"]) == 0
    listed = {row["key"]: row["value"] for row in json.loads(out(capsys))}
    assert listed == {"region": "eu-west-1", "cfg": '{"a": [1, 2]}', "api_token": "***"}
    # Stored encrypted: the secret is not in the database file in clear.
    assert b"t0ps3cret-value" not in (home / "airflow-sc.db").read_bytes()

    exported = home / "vars.json"
    assert main(["variables", "export", str(exported)]) == 0
    assert json.loads(exported.read_text())["cfg"] == {"a": [1, 2]}
    assert main(["variables", "delete", "region"]) == 0
    assert main(["variables", "get", "region"]) == 1
    assert main(["variables", "import", str(exported)]) == 0
    out(capsys)
    assert main(["variables", "get", "region"]) == 0
    assert out(capsys).strip() == "eu-west-1"


def test_connections_add_get_list_export_import(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = "postgres://bob:p%40ss%2Fw0rd!@db.example:5432/analytics?sslmode=require"
    assert main(["connections", "add", "warehouse", "--conn-uri", uri]) == 0
    assert main(["connections", "add", "api", "--conn-type", "http", "--conn-host", "x.io"]) == 0
    out(capsys)
    assert main(["connections", "get", "warehouse", "--json"]) == 0
    shown = json.loads(out(capsys))
    assert shown["password"] == "***"
    assert shown["host"] == "db.example"
    assert shown["login"] == "bob"
    assert main(["connections", "get", "warehouse", "--json", "--reveal"]) == 0
    assert json.loads(out(capsys))["password"] == "p@ss/w0rd!"
    assert main(["connections", "list"]) == 0
    listing = out(capsys)
    assert "p@ss" not in listing
    assert [line.split("\t")[0] for line in listing.splitlines()] == ["api", "warehouse"]

    exported = home / "conns.json"
    assert main(["connections", "export", str(exported)]) == 0
    assert main(["connections", "delete", "warehouse"]) == 0
    assert main(["connections", "get", "warehouse"]) == 1
    assert main(["connections", "import", str(exported)]) == 0
    out(capsys)
    assert main(["connections", "get", "warehouse", "--json", "--reveal"]) == 0
    assert json.loads(out(capsys))["password"] == "p@ss/w0rd!"


def test_add_needs_exactly_one_source(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connections", "add", "x"]) == 1
    assert "exactly one of" in capsys.readouterr().err


def test_rotate_fernet_key(home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    old = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW_SC__CORE__FERNET_KEY", old)
    main(["variables", "set", "password", "hunter2-long"])
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW_SC__CORE__FERNET_KEY", f"{new},{old}")
    assert main(["rotate-fernet-key"]) == 0
    assert "1 variables" in out(capsys)
    monkeypatch.setenv("AIRFLOW_SC__CORE__FERNET_KEY", new)  # the old key is gone
    assert main(["variables", "get", "password", "--reveal"]) == 0
    assert out(capsys).strip() == "hunter2-long"
    monkeypatch.setenv("AIRFLOW_SC__CORE__FERNET_KEY", old)  # a wrong key: a clear error
    with pytest.raises(SystemExit) as exited:
        main(["variables", "get", "password", "--reveal"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "key" in err.lower()
    assert "Traceback" not in err
