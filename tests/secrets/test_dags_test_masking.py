"""`airflow-sc dags test` masks the secrets its tasks read: in the lines it prints (return
values, failure reasons) and in the log records of the run."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_sc.cli import dags_test
from airflow_sc.config import load_settings

PASSWORD = "pw-Wh4t/ever:@%"
TOKEN = "tok-1234567890"

DAG_FILE = """
import datetime
import logging

from airflow_sc.sdk import DAG, BashOperator, Connection, Variable, task

with DAG("masked", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:

    @task
    def show() -> str:
        conn = Connection.get("warehouse")
        logging.getLogger("airflow.task").warning("connecting with %s", conn.password)
        return "token=" + Variable.get("api_token")

    @task
    def leak() -> None:
        raise ValueError("refused: " + Connection.get("warehouse").password)

    templated = BashOperator(task_id="templated", bash_command="echo {{ var.value.api_token }}")
    show() >> leak() >> templated
"""


def test_secrets_read_by_tasks_are_masked_in_dags_test_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "masked.py").write_text(DAG_FILE)
    uri = f"postgres://etl:{quote(PASSWORD, safe='')}@db.local/dwh"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", uri)
    monkeypatch.setenv("AIRFLOW_VAR_API_TOKEN", TOKEN)
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)})
    parser = argparse.ArgumentParser(prog="airflow-sc")
    dags_test.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dags", "test", "masked", "--dags-folder", str(folder)])

    with caplog.at_level(logging.INFO):
        code = args.handler(args, settings)

    out = capsys.readouterr().out
    assert code == 1  # `leak` fails, `templated` is not run
    assert "[success] show (try 1" in out
    assert "-> 'token=***'" in out
    assert "ValueError: refused: ***" in out
    assert "connecting with ***" in caplog.text
    for text in (out, caplog.text):
        assert PASSWORD not in text
        assert TOKEN not in text
