import os
from pathlib import Path

import pytest

from airflow_sc.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    for name in list(os.environ):
        if name.startswith("AIRFLOW_SC__"):
            monkeypatch.delenv(name)
    return tmp_path


def test_config_get_reads_environment(home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("AIRFLOW_SC__CORE__PARALLELISM", "12")
    assert main(["config", "get", "core.parallelism"]) == 0
    assert capsys.readouterr().out.strip() == "12"


def test_config_list_hides_database_password(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("AIRFLOW_SC__DATABASE__URL", "postgresql://bob:s3cret@db.example/af")
    assert main(["config", "list"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "database.url = postgresql://bob:***@db.example/af" in out
    assert f"core.dags_folder = {home / 'dags'}" in out


def test_config_get_unknown_key(home: Path, capsys) -> None:
    assert main(["config", "get", "core.nope"]) == 1
    assert "unknown setting 'core.nope'" in capsys.readouterr().err


def test_invalid_setting_fails_with_exit_2(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("AIRFLOW_SC__API__PORT", "eighty")
    assert main(["config", "list"]) == 2
    err = capsys.readouterr().err
    assert "api.port" in err
    assert "'eighty'" in err
    assert "an integer" in err
