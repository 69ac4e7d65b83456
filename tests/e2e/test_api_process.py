"""`airflow-sc run` serves the API from a child process of its own (`api.separate_process`):
one command, ready when the API serves, drained last, failing as one; wake-ups cross the
process boundary both ways at once (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import signal
import textwrap
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import psutil
import pytest

from airflow_sc.db.schema import migrate_sync
from airflow_sc.testing import postgres
from tests.e2e.deployment import Deployment, alive, cells, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

DAG_SOURCE = """
import datetime

from airflow_sc.sdk import DAG, task

with DAG("e2e_api_process", schedule=None, start_date=datetime.datetime(2026, 1, 1)):

    @task
    def one() -> int:
        return 1

    one()
"""

#: Sweeps and the list cache's age far beyond what the test waits: whatever it sees in
#: time, a wake-up brought.
SLOW_SAFETY_NETS = {
    "AIRFLOW_SC__SCHEDULER__SWEEP_INTERVAL": "120",
    "AIRFLOW_SC__API__LIST_CACHE_MAX_AGE": "120",
    "AIRFLOW_SC__DAG_PROCESSOR__REFRESH_INTERVAL": "120",
}


def api_children(pid: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(pid).children()
        if "api-server" in child.cmdline() and "--control-fd" in child.cmdline()
    ]


def listening_pid(port: int) -> int | None:
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


@pytest.mark.parametrize("cell", cells(("sqlite", "trio"), ("postgres", "asyncio")))
def test_the_api_runs_in_a_child_and_wake_ups_cross_both_ways(
    cell: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database, backend = cell
    home = tmp_path / "home"
    url_context: AbstractContextManager[str | None] = nullcontext(None)
    if database == "postgres":
        request.getfixturevalue("postgres_server")
        url_context = postgres.throwaway_database()
    with url_context as url:
        if url is not None:
            migrate_sync(url)
        deployment = Deployment(home, backend, (), url, settings=SLOW_SAFETY_NETS)
        with deployment.start() as running:
            children = api_children(running.pid)
            assert len(children) == 1
            port = int(running.ready["api"].rsplit(":", 1)[1])
            assert listening_pid(port) == children[0].pid
            # Cached while empty; the DAG processor (other process) stores the new file:
            # the API process hears it and the list shows it.
            assert running.api.get("/dags")["total_entries"] == 0
            (home / "dags" / "api_process.py").write_text(textwrap.dedent(DAG_SOURCE))
            running.api.wait_for_dags(["e2e_api_process"], within=30)
            runs = running.api.get("/dags/e2e_api_process/dagRuns")
            assert runs["total_entries"] == 0
            # The trigger wakes the scheduler (other process) at once; its progress reaches
            # the API's list cache at once: far within the sweeps' 120 s.
            run_id = running.api.trigger("e2e_api_process")
            started = time.monotonic()

            def finished() -> str | None:
                listed = running.api.get("/dags/e2e_api_process/dagRuns")["dag_runs"]
                state = listed[0]["state"] if listed else None
                return state if state in {"success", "failed"} else None

            assert eventually(finished, within=30, what="the run listed as finished") == "success"
            assert time.monotonic() - started < 30
            assert running.api.run_state("e2e_api_process", run_id) == "success"
            running.process.send(signal.SIGTERM)
            assert running.process.wait_exit(timeout=30) == 0
        assert alive(children) == []


@pytest.mark.parametrize("cell", cells(("sqlite", "asyncio")))
def test_an_api_process_that_dies_fails_the_run(cell: tuple[str, str], tmp_path: Path) -> None:
    _, backend = cell
    deployment = Deployment(tmp_path / "home", backend, ())
    with deployment.start() as running:
        (child,) = api_children(running.pid)
        child.kill()
        assert running.process.wait_exit(timeout=30) == 1
    assert "airflow-sc: component 'api' failed:" in running.process.text
    assert "the API server process exited with code -9" in running.process.text


@pytest.mark.parametrize("cell", cells(("sqlite", "asyncio")))
def test_separate_process_false_serves_the_api_in_process(
    cell: tuple[str, str], tmp_path: Path
) -> None:
    _, backend = cell
    settings = {"AIRFLOW_SC__API__SEPARATE_PROCESS": "false"}
    deployment = Deployment(tmp_path / "home", backend, (), settings=settings)
    with deployment.start() as running:
        assert api_children(running.pid) == []
        port = int(running.ready["api"].rsplit(":", 1)[1])
        assert listening_pid(port) == running.pid
        assert running.api.get("/dags")["total_entries"] == 0
        running.process.send(signal.SIGTERM)
        assert running.process.wait_exit(timeout=30) == 0


@pytest.mark.parametrize("cell", cells(("sqlite", "trio")))
def test_the_api_process_does_not_outlive_a_killed_run(
    cell: tuple[str, str], tmp_path: Path
) -> None:
    _, backend = cell
    deployment = Deployment(tmp_path / "home", backend, ())
    with deployment.start() as running:
        (child,) = api_children(running.pid)
        running.process.send(signal.SIGKILL)
        running.process.wait_exit(timeout=10)
        # Its control channel closed: it drains (api.drain_timeout at most) and exits.
        child.wait(timeout=20)


SLEEPER_SOURCE = """
import datetime
import time

from airflow_sc.sdk import DAG, task

with DAG("e2e_api_sleeper", schedule=None, start_date=datetime.datetime(2026, 1, 1)):

    @task
    def sleep() -> None:
        time.sleep(120)

    sleep()
"""


@pytest.mark.parametrize("cell", cells(("sqlite", "asyncio")))
def test_while_run_drains_the_api_process_refuses_writes_and_still_answers(
    cell: tuple[str, str], tmp_path: Path
) -> None:
    _, backend = cell
    home = tmp_path / "home"
    settings = {"AIRFLOW_SC__CORE__SHUTDOWN_GRACE": "8"}
    deployment = Deployment(home, backend, (), settings=settings)
    (home / "dags" / "sleeper.py").write_text(textwrap.dedent(SLEEPER_SOURCE))
    with deployment.start() as running:
        api = running.api
        api.wait_for_dags(["e2e_api_sleeper"], within=30)
        run_id = api.trigger("e2e_api_sleeper")

        def sleeping() -> bool | None:
            state = api.task_instances("e2e_api_sleeper", run_id)["sleep"]["state"]
            return True if state == "running" else None

        eventually(sleeping, within=30, what="the sleeper running")
        running.process.send(signal.SIGTERM)
        # The scheduler waits for the running try (core.shutdown_grace): meanwhile the API
        # process refuses new work and answers reads, as in one process, once it has heard
        # of the drain.
        running.process.wait_for_line("refusing writes while airflow-sc run drains", timeout=20)
        refused = api.client.post(
            "/dags/e2e_api_sleeper/dagRuns", json={"logical_date": None, "conf": {}}
        )
        assert refused.status_code == 503, refused.text
        assert api.client.get("/dags").status_code == 200
        assert running.process.wait_exit(timeout=40) == 0
