"""`airflow-sc dags trigger|pause|unpause|list-runs`, `tasks list|state|states-for-dag-run|clear`
against a real SQLite database, without a scheduler (the end-to-end checks, and the
wake-up that differs between databases, are in test_cli_against_run.py and
scheduler/changes/test_local_socket.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from airflow_sc.cli.main import main

PIPELINE = """
from datetime import datetime
from airflow_sc.sdk import DAG, EmptyOperator, Param

with DAG(
    "pipeline",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    params={"rows": Param(10, type="integer", minimum=1)},
):
    extract = EmptyOperator(task_id="extract")
    extract >> [EmptyOperator(task_id="load_a"), EmptyOperator(task_id="load_b")]
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_database_url: str) -> Path:
    for name in list(os.environ):
        if name.startswith("AIRFLOW_SC__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_SC__DATABASE__URL", sqlite_database_url)
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "pipeline.py").write_text(PIPELINE)
    assert main(["dags", "reserialize"]) == 0
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main([*argv, "-o", "json"]) == 0
    value = json.loads(capsys.readouterr().out)
    assert isinstance(value, list)
    return value


def test_trigger_prints_the_queued_run_and_list_runs_shows_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    (first,) = run_json(capsys, "dags", "trigger", "pipeline", "--conf", '{"rows": 3}')
    assert first["state"] == "queued"
    assert first["run_type"] == "manual"
    assert first["conf"] == {"rows": 3}
    assert str(first["run_id"]).startswith("manual__")
    assert first["logical_date"] == first["run_after"]  # now, as Airflow's CLI does

    dated = ["-r", "nightly", "-l", "2026-03-01T02:00", "-o", "yaml"]
    assert main(["dags", "trigger", "pipeline", *dated]) == 0
    (second,) = yaml.safe_load(capsys.readouterr().out)
    assert second["run_id"] == "nightly"
    assert second["logical_date"] == "2026-03-01T02:00:00+00:00"  # naive: default timezone

    runs = run_json(capsys, "dags", "list-runs", "pipeline")
    # Latest logical date first: the run dated now, then the one dated in March.
    assert [r["run_id"] for r in runs] == [first["run_id"], "nightly"]
    assert run_json(capsys, "dags", "list-runs", "pipeline", "--limit", "1") == runs[:1]
    assert run_json(capsys, "dags", "list-runs", "pipeline", "--state", "success") == []
    before = run_json(capsys, "dags", "list-runs", "pipeline", "-e", "2026-06-01")
    assert [r["run_id"] for r in before] == ["nightly"]

    assert main(["dags", "list-runs", "pipeline"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [c.strip() for c in table[0].split("|")][:4] == ["dag_id", "run_id", "state", "run_type"]
    assert "nightly" in table[-1]


def test_trigger_refuses_what_it_cannot_create(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["dags", "trigger", "pipeline", "--conf", '{"rows": 0}']) == 1
    err = capsys.readouterr().err
    assert "--conf does not match the params of DAG 'pipeline'" in err
    assert "rows" in err

    assert main(["dags", "trigger", "pipeline", "--conf", "{rows"]) == 2
    assert "--conf is not valid JSON" in capsys.readouterr().err

    assert main(["dags", "trigger", "pipeline", "-l", "yesterday"]) == 2
    assert "--logical-date 'yesterday' is not an ISO date" in capsys.readouterr().err

    assert main(["dags", "trigger", "pipeline", "-r", "once"]) == 0
    assert main(["dags", "trigger", "pipeline", "-r", "once"]) == 1
    assert "already has a run with run id 'once'" in capsys.readouterr().err

    assert main(["dags", "trigger", "nope"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err

    # Airflow's run id rule ([scheduler] allowed_run_id_pattern, 250 characters), shared
    # with the REST API through the trigger action; nothing is stored.
    assert main(["dags", "trigger", "pipeline", "-r", "a/b"]) == 1
    assert "does not match regex pattern" in capsys.readouterr().err
    assert main(["dags", "trigger", "pipeline", "-r", "x" * 251]) == 1
    assert "at most 250 fit" in capsys.readouterr().err
    assert main(["dags", "trigger", "pipeline", "--conf", '{"rows": 3, "k": "a\\u0000"}']) == 1
    assert "conf.k: contains a NUL character" in capsys.readouterr().err
    listed = run_json(capsys, "dags", "list-runs", "pipeline")
    assert [r["run_id"] for r in listed] == ["once"]

    assert main(["dags", "list-runs", "nope"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err


def test_pause_and_unpause(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run_json(capsys, "dags", "pause", "pipeline") == [
        {"dag_id": "pipeline", "is_paused": True}
    ]
    (listed,) = run_json(capsys, "dags", "list")
    assert listed["is_paused"] is True
    assert run_json(capsys, "dags", "unpause", "pipeline")[0]["is_paused"] is False
    (listed,) = run_json(capsys, "dags", "list")
    assert listed["is_paused"] is False
    assert main(["dags", "pause", "nope"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err


def test_tasks_list_and_tree(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["tasks", "list", "pipeline"]) == 0
    assert capsys.readouterr().out.splitlines() == ["extract", "load_a", "load_b"]
    assert main(["tasks", "list", "pipeline", "--tree"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pipeline",
        "└── extract (EmptyOperator)",
        "    ├── load_a (EmptyOperator)",
        "    └── load_b (EmptyOperator)",
    ]
    assert main(["tasks", "list", "nope"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err


def test_task_instance_commands_name_what_is_missing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dags", "trigger", "pipeline", "-r", "r1"]) == 0
    capsys.readouterr()
    # Without a scheduler the run has no task instances yet.
    assert run_json(capsys, "tasks", "states-for-dag-run", "pipeline", "r1") == []
    assert main(["tasks", "states-for-dag-run", "pipeline", "r2"]) == 1
    assert "DAG run 'r2' of DAG 'pipeline' not found" in capsys.readouterr().err
    assert main(["tasks", "state", "pipeline", "extract", "r1"]) == 1
    assert "task instance 'extract' of run 'r1'" in capsys.readouterr().err
    assert main(["tasks", "logs", "pipeline", "r1", "extract"]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["tasks", "clear", "pipeline", "--yes"]) == 0
    assert "Cleared 0 task instances" in capsys.readouterr().out
    assert main(["tasks", "clear", "pipeline", "-t", "("]) == 2
    assert "--task-regex '(' is not a regex" in capsys.readouterr().err
    assert main(["tasks", "clear", "nope", "-y"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err
