"""kill -9 of a running `airflow-sc run`, then a restart on the same home: the restarted
process reclaims the killed one's tries at once (it holds the home's scheduler seat, so the
previous holder is gone), not after `scheduler.heartbeat_timeout`.

The heartbeat timeout stays at its default (60 s): the runs must finish within a few
seconds of the restart, and every try must have run its side effect exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import psutil
import pytest

from airflow_sc.db.schema import migrate_sync
from airflow_sc.testing import postgres
from tests.e2e.deployment import (
    Deployment,
    alive,
    cells,
    eventually,
    process_tree,
)
from tests.e2e.test_shutdown import LONG, SETTINGS, _all_tries, ledger, start_long_tasks
from tests.processes import task_writable_file, task_writable_folder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

#: Seconds from the restarted process being ready to the runs being finished: the retried
#: tries finish at once, so this is the reclaim plus a pass of every stage.
RECLAIMED_WITHIN = 10.0


@pytest.fixture
def task_folder() -> Iterator[Path]:
    with task_writable_folder() as folder:
        yield folder


@pytest.mark.parametrize("cell", cells(("sqlite", "trio"), ("postgres", "asyncio")))
def test_a_restart_after_kill_9_reclaims_the_tries_at_once(
    cell: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database, backend = cell
    home = tmp_path / "home"
    shared = request.getfixturevalue("task_folder")
    ledger_path = task_writable_file(shared / "ledger.txt")
    settings = {**SETTINGS, "AIRFLOW_SC__SCHEDULER__HEARTBEAT_TIMEOUT": "60"}
    url_context: AbstractContextManager[str | None] = nullcontext(None)
    if database == "postgres":
        request.getfixturevalue("postgres_server")  # skips (or fails under CI) without one
        url_context = postgres.throwaway_database()
    with url_context as url:
        if url is not None:
            migrate_sync(url)
        deployment = Deployment(home, backend, ("long_runs.py",), url, settings=settings)
        with deployment.start() as running:
            runs = start_long_tasks(running, ledger_path, (LONG,))
            tree = process_tree(running.pid)
            for process in tree:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    continue
            running.process.wait_exit(timeout=30)
        eventually(lambda: not alive(tree) or None, within=5, what="the killed tree gone")

        with deployment.start() as running:
            restarted = time.monotonic()
            final = running.api.wait_finished(runs, within=RECLAIMED_WITHIN)
            took = time.monotonic() - restarted
            tries = _all_tries(running.api, runs)
            output = running.process.text
    assert final == {LONG: "success"}, output
    assert took < RECLAIMED_WITHIN, output
    assert "of the previous process on this home has gone" in output, output
    side_effects = ledger(ledger_path)
    assert set(side_effects.values()) == {1}, side_effects
    assert set(side_effects) == tries, (side_effects, tries)
