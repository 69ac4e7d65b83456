"""DAG files that fork while being imported, in a real `airflow-sc run`: each one is an
import error saying that it forked (not a parse timeout), shown by the REST API and the UI;
the good DAG next to them is parsed, nothing crashes and no forked process is left."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import httpx
import pytest

from airflow_sc.ui.session import SESSION_COOKIE
from tests.e2e.deployment import Deployment, alive, cells, describe, eventually, process_tree

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FORKING = {
    "forks_and_exits.py": """
        import os
        if os.fork() == 0:
            os._exit(0)
    """,
    "child_lingers.py": """
        import os, time
        if os.fork() == 0:
            time.sleep(3600)
    """,
    "waits_forever.py": """
        import os
        pid = os.fork()
        if pid == 0:
            while True:
                pass
        os.waitpid(pid, 0)
    """,
}
DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2026, 1, 1), schedule=None):
    EmptyOperator(task_id="t")
"""


@pytest.mark.parametrize("cell", cells(("sqlite", "asyncio")))
def test_forking_files_are_import_errors_saying_they_forked(
    tmp_path: Path, cell: tuple[str, str]
) -> None:
    home = tmp_path / "home"
    dags = home / "dags"
    dags.mkdir(parents=True)
    for name, body in FORKING.items():
        dag_id = name.removesuffix(".py")
        (dags / name).write_text(textwrap.dedent(body) + DAG.format(dag_id=dag_id))
    (dags / "good.py").write_text(DAG.format(dag_id="good"))
    deployment = Deployment(
        home,
        cell[1],
        (),
        # Far beyond the test's own bound: a fork reported as a timeout would fail it.
        settings={"AIRFLOW_SC__DAG_PROCESSOR__FILE_PARSE_TIMEOUT": "600"},
    )
    with deployment.start() as running:
        api = running.api
        api.wait_for_dags(["good"])

        def reported() -> dict[str, str] | None:
            rows = api.get("/importErrors")["import_errors"]
            found = {Path(row["filename"]).name: row["stack_trace"] for row in rows}
            return found if set(found) == set(FORKING) else None

        errors = eventually(reported, within=60, what="an import error per forking file")
        dag_ids = {d["dag_id"] for d in api.get("/dags?limit=100")["dags"]}
        token = api.client.headers["Authorization"].removeprefix("Bearer ")
        page = httpx.get(
            f"{running.ready['api']}/import-errors", cookies={SESSION_COOKIE: token}, timeout=10
        )
        tree = process_tree(running.pid)
        running.process.send(signal.SIGTERM)
        assert running.process.wait_exit(timeout=30) == 0
    for name in FORKING:
        assert errors[name] == (
            f"{dags / name}: the DAG file forked 1 process while being parsed; DAG files must "
            "not start processes at import (each forked process was ended as it started)"
        )
    assert dag_ids == {"good"}
    assert page.status_code == 200
    assert page.text.count("the DAG file forked 1 process while being parsed") == len(FORKING)
    left = alive(tree)
    assert not left, f"processes outlived `airflow-sc run`: {describe(left)}"
