"""The dags and tasks commands against a real `airflow-sc run` process on SQLite.

The scheduler's sweep timer is set to a minute: a run that starts within seconds of
`dags trigger` (or `tasks clear`) was woken by the command, through the scheduler's
wake socket.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.cli.main import main
from tests.processes import airflow_sc, clean_env, running, task_writable_folder

pytestmark = pytest.mark.slow

#: Well below the sweep interval, well above what a woken scheduler needs.
PROMPT = 15.0

DAG_FILE = """
import datetime, pathlib, time
from airflow_sc.sdk import dag, task

@dag(
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    is_paused_upon_creation=False,
)
def cli_e2e():
    @task
    def extract():
        print("extracted 3 rows")
        return 3

    @task(retries=1, retry_delay=datetime.timedelta(seconds=0))
    def load(rows, **context):
        if context["ti"].try_number == 1:
            raise RuntimeError("database busy on try 1")
        print(f"loaded {rows} rows")

    load(extract())

cli_e2e()

@dag(
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    is_paused_upon_creation=False,
)
def cli_follow():
    @task
    def wait(**context):
        flag = pathlib.Path(context["dag_run"].conf["flag"])
        print(f"waiting for {flag}", flush=True)
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        print("flag seen", flush=True)

    wait()

cli_follow()
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    (home / "dags").mkdir()
    (home / "dags" / "cli_e2e.py").write_text(DAG_FILE)
    env = clean_env(
        home,
        AIRFLOW_SC__API__PORT="0",
        AIRFLOW_SC__SCHEDULER__SWEEP_INTERVAL="60",
        AIRFLOW_SC__CORE__SHUTDOWN_GRACE="5",
        AIRFLOW_SC__CORE__PARALLELISM="4",  # fewer warm workers to start
    )
    with running(airflow_sc("run"), env, home) as proc:
        proc.wait_ready(timeout=60)
        yield home
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=30) == 0


@pytest.fixture
def cli(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    for name in list(os.environ):
        if name.startswith("AIRFLOW_SC"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(deployment))

    def run(*argv: str, code: int = 0) -> str:
        capsys.readouterr()
        assert main(list(argv)) == code, capsys.readouterr()
        return capsys.readouterr().out

    return run


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def run_state(cli: Any, dag_id: str, run_id: str) -> str:
    runs = json.loads(cli("dags", "list-runs", dag_id, "-o", "json"))
    return str(next(r["state"] for r in runs if r["run_id"] == run_id))


def test_trigger_runs_promptly_and_every_try_is_readable(cli: Any) -> None:
    wait_for(lambda: "cli_e2e" in cli("dags", "list", "-o", "plain"), 60, "DAG parsed")
    started = time.monotonic()
    cli("dags", "trigger", "cli_e2e", "-r", "first")
    wait_for(lambda: run_state(cli, "cli_e2e", "first") == "success", PROMPT, "run succeeded")
    assert time.monotonic() - started < PROMPT

    tis = json.loads(cli("tasks", "states-for-dag-run", "cli_e2e", "first", "-o", "json"))
    assert {(t["task_id"], t["state"], t["try_number"]) for t in tis} == {
        ("extract", "success", 1),
        ("load", "success", 2),
    }
    assert cli("tasks", "state", "cli_e2e", "load", "first").strip() == "success"
    first_try = cli("tasks", "logs", "cli_e2e", "first", "load", "--try", "1")
    assert "database busy on try 1" in first_try
    latest = cli("tasks", "logs", "cli_e2e", "first", "load")
    assert "loaded 3 rows" in latest
    assert "database busy" not in latest


def test_clear_asks_then_reruns_the_tasks_promptly(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (run,) = json.loads(cli("dags", "trigger", "cli_e2e", "-r", "to_clear", "-o", "json"))
    wait_for(lambda: run_state(cli, "cli_e2e", "to_clear") == "success", PROMPT, "first pass")
    # Runs dated from this one on: this run only.
    chosen = ["cli_e2e", "-t", "^extract$", "--downstream", "-s", run["logical_date"]]

    listed = cli("tasks", "clear", *chosen, "--dry-run")
    assert "These 2 task instances would be cleared" in listed
    assert run_state(cli, "cli_e2e", "to_clear") == "success"  # nothing changed

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert "Cancelled, nothing was cleared." in cli("tasks", "clear", *chosen)
    assert run_state(cli, "cli_e2e", "to_clear") == "success"
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    asked = cli("tasks", "clear", *chosen)
    assert "These 2 task instances would be cleared" in asked
    assert "Cleared 2 task instances" in asked

    def extract_ran_again() -> bool:
        tis = json.loads(cli("tasks", "states-for-dag-run", "cli_e2e", "to_clear", "-o", "json"))
        return [(t["task_id"], t["try_number"], t["state"]) for t in tis] == [
            ("extract", 2, "success"),
            ("load", 3, "success"),
        ]

    wait_for(extract_ran_again, PROMPT, "both tasks ran again")
    wait_for(lambda: run_state(cli, "cli_e2e", "to_clear") == "success", PROMPT, "second pass")


@pytest.fixture
def task_folder() -> Iterator[Path]:
    with task_writable_folder() as folder:
        yield folder


def test_logs_follow_a_running_try_until_it_ends(
    cli: Any, deployment: Path, tmp_path: Path, task_folder: Path
) -> None:
    shared = task_folder
    flag = shared / "flag"  # the task runs as another OS user: not in pytest's folder
    conf = json.dumps({"flag": str(flag)})
    cli("dags", "trigger", "cli_follow", "-r", "follow", "--conf", conf)
    wait_for(
        lambda: cli("tasks", "state", "cli_follow", "wait", "follow").strip() == "running",
        PROMPT,
        "task running",
    )
    env = clean_env(deployment)
    argv = airflow_sc("tasks", "logs", "cli_follow", "follow", "wait", "--follow")
    with running(argv, env, tmp_path) as follower:
        follower.wait_for_line(f"waiting for {flag}", timeout=PROMPT)
        flag.touch()
        follower.wait_for_line("flag seen", timeout=PROMPT)
        assert follower.wait_exit(timeout=PROMPT) == 0
