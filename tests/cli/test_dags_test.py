"""`airflow-sc dags test`: DAG files from a folder, run in process, one line per task."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_sc.cli import dags_test
from airflow_sc.config import Settings, load_settings

DAGS = Path(__file__).parents[1] / "task_runner" / "dags"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Importing DAG files adds their folder to sys.path; keep that inside the test.
    monkeypatch.setattr(sys, "path", list(sys.path))
    return load_settings({"AIRFLOW_SC_HOME": str(tmp_path)})


def invoke(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="airflow-sc")
    dags_test.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dags", "test", *argv])
    handler = args.handler
    assert handler is dags_test.dags_test
    return handler(args, settings)


def lines_of(out: str) -> list[str]:
    return [re.sub(r", \d+\.\d\ds\)", ")", line) for line in out.splitlines()]


def test_a_successful_run_prints_each_task_and_exits_0(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_GREETING", "hi")
    monkeypatch.setenv("AIRFLOW_SC_CONN_WAREHOUSE", "postgres://u:p@wh.example:5432/dwh")
    code = invoke(
        settings, "etl", "2024-03-05", "--conf", '{"factor": 5}', "--dags-folder", str(DAGS)
    )
    out = capsys.readouterr().out
    assert code == 0, out
    run_id = "manual__2024-03-05T00:00:00+00:00"
    assert lines_of(out) == [
        f"Testing DAG 'etl' from {DAGS / 'etl_dag.py'}, run {run_id}",
        "[success] extract (try 1) -> {'a': 1, 'factor': 5}",
        "[success] transform (try 1) -> '5 via hi @ wh.example'",
        "[success] stamp (try 1) -> 'day=2024-03-05'",
        f"DAG run {run_id}: success",
    ]


def test_a_failing_run_exits_1(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = invoke(settings, "failing", "2024-01-02T03:04:05+00:00", "--dags-folder", str(DAGS))
    out = lines_of(capsys.readouterr().out)
    assert code == 1
    assert out[1:] == [
        "[success] first (try 1) -> 1",
        "[up_for_retry] boom (try 1): ValueError: boom 1; "
        "retrying now (retry delay of 0:00:30 skipped)",
        "[failed] boom (try 2): ValueError: boom 1",
        "DAG run manual__2024-01-02T03:04:05+00:00: failed",
    ]


def test_dags_folder_defaults_to_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "one.py").write_text((DAGS / "failing_dag.py").read_text())
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)})
    assert settings.dags_folder == folder
    assert invoke(settings, "failing") == 1
    assert "DAG run manual__" in capsys.readouterr().out


def test_an_unknown_dag_lists_close_matches_and_import_errors(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(settings, "failling", "--dags-folder", str(DAGS)) == 1
    err = capsys.readouterr().err
    assert f"DAG 'failling' not found in {DAGS}" in err
    assert "Did you mean: failing?" in err
    assert str(DAGS / "broken_dag.py") in err
    assert "No module named 'not_a_module_that_exists'" in err
    assert "must not be imported" not in err  # a file not mentioning airflow is not imported


def test_conf_must_match_the_dag_params(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = invoke(settings, "etl", "--conf", '{"factor": "x"}', "--dags-folder", str(DAGS))
    assert bad == 1
    err = capsys.readouterr().err
    assert "--conf does not match the params of DAG 'etl'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["etl", "not-a-date"], "LOGICAL_DATE 'not-a-date' is not an ISO date or datetime"),
        (["etl", "--conf", "[1]"], "--conf must be a JSON object"),
        (["etl", "--conf", "{"], "--conf is not valid JSON"),
        (["etl", "--dags-folder", "/nonexistent/dags"], "/nonexistent/dags does not exist"),
    ],
)
def test_bad_arguments_exit_1_with_a_message(
    settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if "--dags-folder" not in argv:
        argv = [*argv, "--dags-folder", str(DAGS)]
    assert invoke(settings, *argv) == 1
    assert message in capsys.readouterr().err


def test_in_a_fresh_process_task_logs_go_to_stderr(tmp_path: Path) -> None:
    script = (
        "import argparse, sys\n"
        "from airflow_sc.cli import dags_test\n"
        "from airflow_sc.config import load_settings\n"
        "parser = argparse.ArgumentParser()\n"
        "dags_test.register(parser.add_subparsers(dest='command', required=True))\n"
        "args = parser.parse_args(sys.argv[1:])\n"
        "sys.exit(args.handler(args, load_settings()))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "dags", "test", "etl", "--dags-folder", str(DAGS)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_VAR_GREETING": "yo"},
        check=False,
    )
    assert completed.returncode == 1, completed.stderr  # no `warehouse` connection
    assert "[failed] transform (try 1)" in lines_of(completed.stdout)[2]
    assert "Connection 'warehouse' does not exist" in completed.stdout
    assert "[upstream_failed] stamp (not run: trigger rule all_success)" in completed.stdout
    assert "Task failed with exception" in completed.stderr
