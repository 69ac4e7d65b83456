"""`airflow-sc tasks test`: one task, in this process, nothing recorded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_sc.cli.main import main

DAG_FILE = """
import datetime
from airflow_sc.sdk import dag, task

@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
def shop():
    @task
    def count(**context):
        print("counting for", context["ds"])
        return {"orders": 3}

    @task(retries=2)
    def explode():
        raise ValueError("no orders table")

    @task
    async def fetch():
        return "fetched"

    @task
    def report(totals):
        print("totals", totals)

    report(count())
    explode()
    fetch()

shop()
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("AIRFLOW_SC"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "shop.py").write_text(DAG_FILE)
    return tmp_path


def test_a_task_runs_here_with_its_output_and_result(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "test", "shop", "count", "2026-02-03"]) == 0
    out = capsys.readouterr().out
    assert "counting for 2026-02-03" in out
    assert "Task 'count': success" in out
    assert "-> {'orders': 3}" in out
    assert not (home / "airflow-sc.db").exists()  # no database touched


def test_upstream_results_are_not_needed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "test", "shop", "report"]) == 0
    out = capsys.readouterr().out
    assert "totals None" in out  # the upstream XCom does not exist: the task still runs
    assert "Task 'report': success" in out


def test_an_async_task_runs_too(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "test", "shop", "fetch"]) == 0
    assert "-> 'fetched'" in capsys.readouterr().out


def test_a_failure_prints_the_traceback_and_fails_without_retrying(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "test", "shop", "explode"]) == 1
    captured = capsys.readouterr()
    assert "ValueError: no orders table" in captured.err
    assert "Task 'explode': failed" in captured.out


def test_unknown_dag_or_task_is_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "test", "shop", "nope"]) == 1
    assert "DAG 'shop' has no task 'nope'" in capsys.readouterr().err
    assert main(["tasks", "test", "nope", "count"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err
    assert main(["tasks", "test", "shop", "count", "tomorrow"]) == 2
    assert "LOGICAL_DATE 'tomorrow' is not an ISO date" in capsys.readouterr().err
