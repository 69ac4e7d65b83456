"""A PostgreSQL outage in the middle of a run: `airflow-sc run` waits it out.

The test's own cluster (`tests/pg_cluster.py`, never the shared server) is stopped for
`OUTAGE` seconds while tries of ``dags/outage.py`` run, one of them finishing during the
outage, then started again. The process must stay up, say it is unhealthy (and refuse
writes with 503) meanwhile, say it is healthy again afterwards, and finish the run with
every task executed exactly as often as it has tries: one each, since the heartbeats the
outage kept from the database must not turn the running tries into zombies.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_sc.db.schema import migrate_sync
from tests.e2e.deployment import Deployment, cells, eventually
from tests.pg_cluster import throwaway_cluster
from tests.processes import task_writable_folder

# The one test allowed to take ~40 s: it is about a 30 s outage.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DAG_ID = "e2e_outage"
TASKS = ("finishes_in_outage", "holds", "awaits", "after")
OUTAGE = 30.0
HEARTBEAT_INTERVAL = 1.0
#: Far shorter than the outage: a try judged by its last heartbeat alone would be a zombie.
HEARTBEAT_TIMEOUT = 8.0
SETTINGS = {
    "AIRFLOW_SC__CORE__PARALLELISM": "4",
    "AIRFLOW_SC__CORE__SHUTDOWN_GRACE": "1",
    "AIRFLOW_SC__SCHEDULER__HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL),
    "AIRFLOW_SC__SCHEDULER__HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
}


def executions(markers: Path) -> dict[str, int]:
    """How many times each task ran (each try leaves one marker file)."""
    counts = dict.fromkeys(TASKS, 0)
    for marker in markers.iterdir():
        task_id = marker.name.split(".")[0]
        counts[task_id] += 1
    return counts


def health(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v2/monitor/health", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def healthy(body: dict[str, Any]) -> bool:
    return (
        body["metadatabase"]["status"] == "healthy"
        and body["scheduler"]["status"] == "healthy"
        and body["dag_processor"]["status"] == "healthy"
    )


@pytest.mark.parametrize("cell", cells(("postgres", "asyncio")))
def test_a_database_outage_is_waited_out(cell: tuple[str, str], tmp_path: Path) -> None:
    _, backend = cell
    with (
        task_writable_folder() as markers,
        task_writable_folder() as signals,
        throwaway_cluster() as cluster,
    ):
        release = signals / "release"
        migrate_sync(cluster.url)
        deployment = Deployment(
            tmp_path / "home", backend, ("outage.py",), cluster.url, settings=SETTINGS
        )
        with deployment.start() as running:
            api, url, process = running.api, running.ready["api"], running.process
            api.wait_for_dags([DAG_ID])
            conf = {"markers": str(markers), "release": str(release)}
            run_id = api.trigger(DAG_ID, conf)
            eventually(
                lambda: (
                    executions(markers)["finishes_in_outage"]
                    * executions(markers)["holds"]
                    * executions(markers)["awaits"]
                    or None
                ),
                within=30,
                what="the first tries running",
            )
            eventually(lambda: healthy(health(url)) or None, within=10, what="healthy before")

            cluster.stop()
            stopped = time.monotonic()
            during = eventually(
                lambda: (body := health(url))["metadatabase"]["status"] == "unhealthy" and body,
                within=10,
                what="the health route reporting the outage",
            )
            assert during["scheduler"]["status"] == "unhealthy", during
            assert during["dag_processor"]["status"] == "unhealthy", during
            refused = api.client.post(f"/dags/{DAG_ID}/dagRuns", json={"conf": conf})
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert "unreachable" in refused.json()["detail"]
            read = api.client.get("/dags")
            assert read.status_code == 503, read.text
            # The process stays up for the whole outage.
            with pytest.raises(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.0, OUTAGE - (time.monotonic() - stopped)))
            assert health(url)["metadatabase"]["status"] == "unhealthy"

            cluster.start()
            eventually(lambda: healthy(health(url)) or None, within=20, what="healthy again")
            # `holds` and `awaits` are still running, their last heartbeats written before
            # the outage, far beyond the heartbeat timeout. Give housekeeping (a pass every
            # heartbeat interval) time to judge them before letting them finish: a
            # deliberate wait, the behaviour is about time passing.
            time.sleep(3 * HEARTBEAT_INTERVAL)
            release.touch()
            states = api.wait_finished({DAG_ID: run_id}, within=30)
            tis = api.task_instances(DAG_ID, run_id)
            output = process.text
            assert states == {DAG_ID: "success"}, (tis, output)
            again = api.client.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
            assert again.status_code == 200, again.text

            ran = executions(markers)
            tries = {task_id: int(tis[task_id]["try_number"]) for task_id in TASKS}
            assert ran == tries, (ran, tis, output)
            assert set(tries.values()) == {1}, (tries, output)
            assert {ti["state"] for ti in tis.values()} == {"success"}, tis
            assert "the metadata database is unreachable" in output, output
            assert "the metadata database answers again" in output, output
            assert "heartbeat timeout" not in output, output

            process.send(signal.SIGTERM)
            assert process.wait_exit(timeout=30) == 0, process.text
