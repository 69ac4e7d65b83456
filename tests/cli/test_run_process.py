"""`airflow-sc run` as a real process: health, graceful SIGTERM, start-up failures."""

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from airflow_sc.db.schema import migrate_sync
from tests.processes import airflow_sc, clean_env, running

pytestmark = pytest.mark.slow

BACKENDS = ["asyncio", "trio"]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("backend", BACKENDS)
def test_fresh_home_serves_health_then_drains_on_sigterm(tmp_path: Path, backend: str) -> None:
    env = clean_env(tmp_path, AIRFLOW_SC__API__PORT="0", AIRFLOW_SC__CORE__SHUTDOWN_GRACE="10")
    with running(airflow_sc("run", "--backend", backend), env, tmp_path) as proc:
        api = proc.wait_ready()["api"]
        health = httpx.get(f"{api}/api/v2/monitor/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["metadatabase"] == {"status": "healthy"}
        # Every component of `run` reports in with a heartbeat.
        assert health.json()["scheduler"]["status"] == "healthy"
        assert health.json()["dag_processor"]["status"] == "healthy"
        version = httpx.get(f"{api}/api/v2/version", timeout=10).json()
        assert version["version"]
        started = time.monotonic()
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=15) == 0
        assert time.monotonic() - started < 10
    assert (tmp_path / "airflow-sc.db").is_file()  # the embedded database was created
    assert port_is_free(int(api.rsplit(":", 1)[1]))


def test_port_in_use_fails_naming_the_api_component(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(tmp_path, AIRFLOW_SC__API__PORT=str(port))
        with running(airflow_sc("run"), env, tmp_path) as proc:
            assert proc.wait_exit() == 1
    assert "airflow-sc: component 'api' failed:" in proc.text
    assert "OSError" in proc.text
    assert "Address already in use" in proc.text


def test_invalid_setting_stops_start_up(tmp_path: Path) -> None:
    env = clean_env(tmp_path, AIRFLOW_SC__CORE__PARALLELISM="lots")
    with running(airflow_sc("run"), env, tmp_path) as proc:
        assert proc.wait_exit() == 2
    assert "core.parallelism" in proc.text
    assert "'lots'" in proc.text


@pytest.mark.postgres
def test_unmigrated_postgres_is_refused_with_the_command_to_run(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    env = clean_env(tmp_path, AIRFLOW_SC__DATABASE__URL=fresh_postgres_url)
    with running(airflow_sc("run"), env, tmp_path) as proc:
        assert proc.wait_exit() == 1
    assert "airflow-sc db migrate" in proc.text
    assert "Traceback" not in proc.text


@pytest.mark.postgres
@pytest.mark.parametrize("backend", BACKENDS)
def test_migrated_postgres_serves_health(
    tmp_path: Path, fresh_postgres_url: str, backend: str
) -> None:
    migrate_sync(fresh_postgres_url)
    env = clean_env(
        tmp_path, AIRFLOW_SC__DATABASE__URL=fresh_postgres_url, AIRFLOW_SC__API__PORT="0"
    )
    with running(airflow_sc("run", "--backend", backend), env, tmp_path) as proc:
        api = proc.wait_ready()["api"]
        health = httpx.get(f"{api}/api/v2/monitor/health", timeout=10).json()
        assert health["metadatabase"]["status"] == "healthy"
        adapter = "native" if backend == "asyncio" else "thread"
        assert f"({adapter} adapter)" in proc.text
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=15) == 0


@pytest.mark.parametrize(
    ("command", "components"),
    [("api-server", {"api"}), ("dag-processor", {"dag_processor"})],
)
def test_single_component_commands(tmp_path: Path, command: str, components: set[str]) -> None:
    env = clean_env(tmp_path, AIRFLOW_SC__API__PORT="0")
    with running(airflow_sc(command), env, tmp_path) as proc:
        assert set(proc.wait_ready()) == components
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=15) == 0


SLOW_TO_PARSE = """
import pathlib
import time
from datetime import datetime

from airflow_sc.sdk import DAG, BashOperator

release = pathlib.Path({release!r})
while not release.exists():  # parsing takes as long as the test wants
    time.sleep(0.05)

with DAG("slow_to_parse", start_date=datetime(2026, 1, 1), schedule=None):
    BashOperator(task_id="hello", bash_command="echo hi")
"""


def test_ready_is_logged_when_the_api_serves_while_parsing_goes_on(tmp_path: Path) -> None:
    # The release file is in the dags folder: DAG files are parsed as the task user, who
    # is given the dags folder alone (when the tests run as root).
    dags = tmp_path / "dags"
    release = dags / "release"
    dags.mkdir()
    (dags / "slow.py").write_text(SLOW_TO_PARSE.format(release=str(release)))
    env = clean_env(
        tmp_path,
        AIRFLOW_SC__API__PORT="0",
        AIRFLOW_SC__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW_SC__DAG_PROCESSOR__FILE_PARSE_TIMEOUT="120",
    )
    with running(airflow_sc("run"), env, tmp_path) as proc:
        api = proc.wait_ready(timeout=60)["api"]
        # The DAG file is still being imported: ready came first, and the API serves.
        assert "parsed 1 files" not in proc.text
        assert httpx.get(f"{api}/api/v2/monitor/health", timeout=10).status_code == 200
        release.touch()
        proc.wait_for_line(r"parsed 1 files \(1 DAGs, 0 import errors\)", timeout=60)
        proc.send(signal.SIGTERM)
        assert proc.wait_exit(timeout=30) == 0
