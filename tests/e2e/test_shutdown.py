"""Stopping a real `airflow-sc run` mid-run (SIGTERM, or kill -9 of its tree), then
starting it again on the same home and database.

``dags/long_runs.py`` has tasks whose first try works for ten minutes: a sync task, one
that ignores SIGTERM and leaves a grandchild behind, an ``async def`` task (in-process
executor) and, in a second DAG, a task without retries. Every try appends a line to a
ledger file, so after the restart the side effects can be counted against the tries the
API reports. Each scenario runs once per database and backend (a module fixture); the
tests check one consequence each.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from airflow_sc.db.schema import migrate_sync
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.testing import postgres
from tests.e2e.deployment import (
    Api,
    Deployment,
    Running,
    alive,
    cells,
    describe,
    eventually,
    process_tree,
)
from tests.processes import task_writable_file, task_writable_folder

# A module fixture starts the processes inside the first test of each cell: allow for it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

LONG = "e2e_long"
LAST_CHANCE = "e2e_last_chance"
LONG_TASKS = ("works", "stubborn", "awaits")
SHUTDOWN_GRACE = 1.0
TERMINATE_GRACE = 0.5
HEARTBEAT_TIMEOUT = 3.0
GRANDCHILD = "import time; time.sleep(600)"
SETTINGS = {
    # Global: the in-process `awaits` counts too.
    "AIRFLOW_SC__CORE__PARALLELISM": "4",
    "AIRFLOW_SC__CORE__SHUTDOWN_GRACE": str(SHUTDOWN_GRACE),
    "AIRFLOW_SC__EXECUTOR__TERMINATE_GRACE": str(TERMINATE_GRACE),
    "AIRFLOW_SC__SCHEDULER__HEARTBEAT_INTERVAL": "0.5",
}


def ledger(path: Path) -> Counter[tuple[str, int]]:
    """How many times each (task_id, try_number) ran its side effect."""
    words = path.read_text().split() if path.exists() else []
    return Counter(zip(words[::2], map(int, words[1::2]), strict=True))


@dataclass
class Stopped:
    """What one stop-then-restart scenario showed."""

    runs: dict[str, str]
    #: task_id -> state of the long DAG's tries, a while after they started (kill only).
    states_before_stop: dict[str, str]
    exit_code: int
    #: Seconds from the signal to the exit.
    took: float
    #: Processes of the stopped tree still alive a moment after it exited.
    left: list[str]
    output: str
    #: (dag_id, task_id) -> state, read from the database while nothing ran.
    states_after_stop: dict[tuple[str, str], str | None]
    first_try_logs: dict[str, str]
    #: Seconds from the restarted process being ready to every run being finished.
    finished_after: float | None = None
    final_states: dict[str, str] = field(default_factory=dict)
    #: Every (task_id, try_number) up to each task instance's try number, after the restart.
    tries: set[tuple[str, int]] = field(default_factory=set)
    side_effects: Counter[tuple[str, int]] = field(default_factory=Counter)


def _deployment(
    request: pytest.FixtureRequest, home: Path, heartbeat_timeout: float
) -> Iterator[Deployment]:
    database, backend = request.param
    settings = {**SETTINGS, "AIRFLOW_SC__SCHEDULER__HEARTBEAT_TIMEOUT": str(heartbeat_timeout)}
    if database == "sqlite":
        yield Deployment(home, backend, ("long_runs.py",), settings=settings)
        return
    request.getfixturevalue("postgres_server")  # skips (or fails under CI) without a server
    with postgres.throwaway_database() as url:
        migrate_sync(url)
        yield Deployment(home, backend, ("long_runs.py",), url, settings=settings)


def start_long_tasks(
    running: Running, ledger_path: Path, dag_ids: tuple[str, ...]
) -> dict[str, str]:
    """Trigger `dag_ids`; return once every first try is busy (the grandchild included)."""
    api = running.api
    api.wait_for_dags(dag_ids)
    runs = {dag_id: api.trigger(dag_id, {"ledger": str(ledger_path)}) for dag_id in dag_ids}
    wanted = {(task_id, 1) for task_id in LONG_TASKS}
    if LAST_CHANCE in dag_ids:
        wanted.add(("last_chance", 1))

    def busy() -> bool | None:
        started = set(ledger(ledger_path)) >= wanted
        commands = [" ".join(p.cmdline()) for p in alive(process_tree(running.pid))]
        return True if started and any(GRANDCHILD in c for c in commands) else None

    eventually(busy, within=30, what=f"first tries of {sorted(wanted)} running")
    return runs


def _first_try_log(deployment: Deployment, dag_id: str, run_id: str, task_id: str) -> str:
    path = try_log_path(
        deployment.logs, dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=1
    )
    return path.read_text() if path.exists() else ""


def _scenario(deployment: Deployment, ledger_path: Path, *, kill: bool) -> Stopped:
    dag_ids = (LONG,) if kill else (LONG, LAST_CHANCE)
    states_before_stop: dict[str, str] = {}
    with deployment.start() as running:
        runs = start_long_tasks(running, ledger_path, dag_ids)
        if kill:
            # Let the tries run past the heartbeat timeout: housekeeping (every 0.5 s) must
            # see them alive. A deliberate wait: the behaviour is about time passing.
            time.sleep(HEARTBEAT_TIMEOUT + 1.5)
            tis = running.api.task_instances(LONG, runs[LONG])
            states_before_stop = {task_id: ti["state"] for task_id, ti in tis.items()}
        tree = process_tree(running.pid)
        stopped = time.monotonic()
        if kill:
            for process in tree:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    continue
        else:
            running.process.send(signal.SIGTERM)
        exit_code = running.process.wait_exit(timeout=30)
        took = time.monotonic() - stopped
        output = running.process.text
    with contextlib.suppress(AssertionError):  # the tests report what is left
        eventually(lambda: not alive(tree) or None, within=5, what="the stopped tree gone")
    left = [describe([p]) for p in alive(tree)]
    record = Stopped(
        runs=runs,
        states_before_stop=states_before_stop,
        exit_code=exit_code,
        took=took,
        left=left,
        output=output,
        states_after_stop={key: row["state"] for key, row in deployment.task_instances().items()},
        first_try_logs={
            task_id: _first_try_log(deployment, dag_id, runs[dag_id], task_id)
            for dag_id, task_id in [(LONG, t) for t in LONG_TASKS] + [(LAST_CHANCE, "last_chance")]
            if dag_id in runs
        },
    )
    with deployment.start() as running:
        restarted = time.monotonic()
        with contextlib.suppress(AssertionError):  # the tests say what is missing
            record.final_states = running.api.wait_finished(runs, within=HEARTBEAT_TIMEOUT + 20)
            record.finished_after = time.monotonic() - restarted
        record.tries = _all_tries(running.api, runs)
        running.process.send(signal.SIGTERM)
        running.process.wait_exit(timeout=30)
    record.side_effects = ledger(ledger_path)
    return record


def _all_tries(api: Api, runs: dict[str, str]) -> set[tuple[str, int]]:
    """Tries 1..try_number of every task instance of `runs`."""
    tries: set[tuple[str, int]] = set()
    for dag_id, run_id in runs.items():
        for task_id, ti in api.task_instances(dag_id, run_id).items():
            tries |= {(task_id, n) for n in range(1, ti["try_number"] + 1)}
    return tries


@pytest.fixture(
    scope="module",
    params=cells(("sqlite", "asyncio"), ("postgres", "trio")),
)
def sigterm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    home = tmp_path_factory.mktemp("sigterm")
    # A graceful stop closes the scheduler job: a restart reclaims at once, whatever the
    # heartbeat timeout; a long one keeps this scenario about shutdown alone.
    for deployment in _deployment(request, home, heartbeat_timeout=60):
        with task_writable_folder() as shared:
            return _scenario(deployment, task_writable_file(shared / "ledger.txt"), kill=False)
    raise AssertionError("no deployment")


@pytest.fixture(
    scope="module",
    # SQLite: the restart also proves the killed scheduler's lock file was released. (A
    # PostgreSQL cell reclaims through the same job rows and would add ~15 s.)
    params=cells(("sqlite", "trio")),
)
def killed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    home = tmp_path_factory.mktemp("killed")
    for deployment in _deployment(request, home, heartbeat_timeout=HEARTBEAT_TIMEOUT):
        with task_writable_folder() as shared:
            return _scenario(deployment, task_writable_file(shared / "ledger.txt"), kill=True)
    raise AssertionError("no deployment")


# -- SIGTERM ---------------------------------------------------------------------------------


def test_sigterm_exits_within_the_grace_leaving_no_process(sigterm: Stopped) -> None:
    assert sigterm.exit_code == 0, sigterm.output
    # The grace for running tasks, SIGTERM -> SIGKILL for the stubborn one; the rest is the
    # API drain and closing the database.
    assert sigterm.took < SHUTDOWN_GRACE + TERMINATE_GRACE + 5, sigterm.output
    assert sigterm.left == []


def test_sigterm_leaves_nothing_queued_or_running_and_says_why_in_the_logs(
    sigterm: Stopped,
) -> None:
    states = sigterm.states_after_stop
    # Retried: up_for_retry, or already scheduled again (nobody owns it until a restart).
    assert states[LONG, "works"] in ("up_for_retry", "scheduled"), states  # reported itself
    assert states[LAST_CHANCE, "last_chance"] == "failed", states  # no retries left
    logs = sigterm.first_try_logs
    for task_id in ("works", "stubborn", "last_chance"):
        stopping = "Stopping the task: the executor shut down before the task finished"
        assert stopping in logs[task_id], (task_id, logs[task_id], sigterm.output)
    assert "did not stop after SIGTERM: killing it" in logs["stubborn"], logs["stubborn"]
    assert "shut down" in logs["awaits"], (logs["awaits"], sigterm.output)


def test_sigterm_records_the_tries_whose_executor_stopped_them(sigterm: Stopped) -> None:
    for task_id in ("stubborn", "awaits"):
        assert sigterm.states_after_stop[LONG, task_id] in ("up_for_retry", "scheduled")


def test_after_sigterm_a_restart_finishes_the_runs(sigterm: Stopped) -> None:
    assert sigterm.final_states == {LONG: "success", LAST_CHANCE: "failed"}


def test_after_sigterm_each_try_ran_its_side_effect_once(sigterm: Stopped) -> None:
    assert set(sigterm.side_effects.values()) == {1}, sigterm.side_effects
    assert set(sigterm.side_effects) == sigterm.tries
    assert {(t, n) for t, n in sigterm.tries if n == 2} == {(t, 2) for t in LONG_TASKS}


# -- kill -9 ---------------------------------------------------------------------------------


def test_tries_running_longer_than_the_heartbeat_timeout_stay_running(killed: Stopped) -> None:
    assert killed.states_before_stop == dict.fromkeys(LONG_TASKS, "running")


def test_after_kill_9_a_restart_reclaims_the_orphans_within_the_heartbeat_timeout(
    killed: Stopped,
) -> None:
    assert killed.left == []
    # Nobody was left to record anything: the tries look busy until reclaimed.
    assert killed.states_after_stop[LONG, "works"] == "running"
    assert killed.states_after_stop[LONG, "stubborn"] == "running"
    assert killed.final_states == {LONG: "success"}
    assert killed.finished_after is not None
    assert killed.finished_after < HEARTBEAT_TIMEOUT + 10


def test_after_kill_9_each_try_ran_its_side_effect_once(killed: Stopped) -> None:
    assert set(killed.side_effects.values()) == {1}, killed.side_effects
    assert set(killed.side_effects) == killed.tries
    assert {task_id for task_id, _ in killed.tries} == set(LONG_TASKS)
