"""DAGs run end to end in a real `airflow-sc run`: SQLite and PostgreSQL, asyncio and trio.

One process per database and backend: it parses ``dags/behaviours.py``, every DAG in it is
triggered through the REST API, and once all runs have finished what a user can see (run
and task states, tries, logs, XComs) is read back through the API. Each test then checks
one behaviour in that record.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.db.schema import migrate_sync
from airflow_sc.domain.retries import retry_delay_for, retry_jitter_hash
from airflow_sc.testing import postgres
from tests.e2e.dags.behaviours import NAP_SECONDS, NAPS
from tests.e2e.deployment import Api, Deployment, alive, cells, describe, process_tree

# A module fixture starts the processes inside the first test of each cell: allow for it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

POOL = "e2e_two_slots"
DAG_IDS = (
    "e2e_retries",
    "e2e_timeout",
    "e2e_crashes",
    "e2e_xcom",
    "e2e_branch",
    "e2e_pool",
    "e2e_async",
)
#: Logs read back: (dag_id, task_id, try_number).
LOGS = (
    ("e2e_timeout", "sleeper", 1),
    ("e2e_crashes", "segfault", 1),
    ("e2e_crashes", "exit_3", 1),
)
#: How much later than its retry delay a try may start (the scheduler wakes for it).
RETRY_SLACK = 3.0


@dataclass
class Record:
    """What the API showed once every run had finished."""

    runs: dict[str, str]
    states: dict[str, str]
    tis: dict[str, dict[str, dict[str, Any]]]
    tries: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    logs: dict[tuple[str, str, int], str] = field(default_factory=dict)
    xcoms: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: The pid of `airflow-sc run` (in-process tries report it as theirs).
    pid: int = 0

    def ti(self, dag_id: str, task_id: str) -> dict[str, Any]:
        return self.tis[dag_id][task_id]


def _read(api: Api, runs: dict[str, str], states: dict[str, str]) -> Record:
    record = Record(runs, states, {d: api.task_instances(d, r) for d, r in runs.items()})
    for task_id in ("fixed_delay", "backoff"):
        record.tries["e2e_retries", task_id] = api.tries(
            "e2e_retries", runs["e2e_retries"], task_id
        )
    for dag_id, task_id, try_number in LOGS:
        record.logs[dag_id, task_id, try_number] = api.log(
            dag_id, runs[dag_id], task_id, try_number
        )
    for dag_id, task_id in (
        ("e2e_xcom", "produce"),
        ("e2e_xcom", "consume"),
        ("e2e_async", "naps"),
    ):
        record.xcoms[dag_id, task_id] = api.xcom(dag_id, runs[dag_id], task_id)
    return record


CELLS = cells(
    ("sqlite", "asyncio"), ("sqlite", "trio"), ("postgres", "asyncio"), ("postgres", "trio")
)


@pytest.fixture(scope="module", params=CELLS)
def record(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Record]:
    database, backend = request.param
    home = tmp_path_factory.mktemp(f"e2e-{database}-{backend}")
    if database == "sqlite":
        yield _run_everything(home, backend, None)
        return
    request.getfixturevalue("postgres_server")  # skips (or fails under CI) without a server
    with postgres.throwaway_database() as url:
        migrate_sync(url)
        yield _run_everything(home, backend, url)


def _run_everything(home: Path, backend: str, database_url: str | None) -> Record:
    deployment = Deployment(
        home,
        backend,
        ("behaviours.py",),
        database_url,
        settings={"AIRFLOW_SC__CORE__PARALLELISM": "3"},
    )
    with deployment.start() as running:
        api = running.api
        api.wait_for_dags(DAG_IDS)
        api.create_pool(POOL, 2)
        runs = {dag_id: api.trigger(dag_id) for dag_id in DAG_IDS}
        states = api.wait_finished(runs, within=40)
        record = _read(api, runs, states)
        record.pid = running.pid
        tree = process_tree(running.pid)
        running.process.send(signal.SIGTERM)
        assert running.process.wait_exit(timeout=20) == 0
    left = alive(tree)
    assert not left, f"processes outlived `airflow-sc run`: {describe(left)}"
    return record


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_runs_end_in_the_states_their_tasks_lead_to(record: Record) -> None:
    assert record.states == {
        "e2e_retries": "success",
        "e2e_timeout": "failed",
        "e2e_crashes": "failed",
        "e2e_xcom": "success",
        "e2e_branch": "success",
        "e2e_pool": "success",
        "e2e_async": "success",
    }


@pytest.mark.parametrize("task_id", ["fixed_delay", "backoff"])
def test_retries_wait_their_delay_and_then_start_promptly(record: Record, task_id: str) -> None:
    tries = record.tries["e2e_retries", task_id]
    assert [(t["try_number"], t["state"]) for t in tries] == [
        (1, "up_for_retry"),
        (2, "up_for_retry"),
        (3, "success"),
    ]
    spec = {
        "fixed_delay": (timedelta(seconds=0.2), False),
        "backoff": (timedelta(seconds=0.6), True),
    }
    retry_delay, exponential = spec[task_id]
    for failed, following in itertools.pairwise(tries):
        delay = retry_delay_for(
            try_number=failed["try_number"],
            retry_delay=retry_delay,
            retry_exponential_backoff=exponential,
            max_retry_delay=None,
            ti_key_hash=retry_jitter_hash("e2e_retries", task_id, None, failed["try_number"]),
        ).total_seconds()
        waited = (_at(following["start_date"]) - _at(failed["end_date"])).total_seconds()
        assert delay <= waited < delay + RETRY_SLACK, (failed["try_number"], delay, waited)


def test_execution_timeout_kills_a_sleeping_task(record: Record) -> None:
    ti = record.ti("e2e_timeout", "sleeper")
    assert ti["state"] == "failed"
    assert ti["duration"] < 5  # counted from the task's start call, the deadline from its fork
    log = record.logs["e2e_timeout", "sleeper", 1]
    assert "Stopping the task: execution_timeout of 0.5s exceeded" in log


@pytest.mark.parametrize(
    ("task_id", "reason"),
    [
        ("segfault", "The task process killed by SIGSEGV without reporting a result"),
        ("exit_3", "The task process exited with code 3 without reporting a result"),
    ],
)
def test_a_crashing_task_fails_with_the_reason_in_its_log(
    record: Record, task_id: str, reason: str
) -> None:
    ti = record.ti("e2e_crashes", task_id)
    assert (ti["state"], ti["try_number"]) == ("failed", 1)
    assert reason in record.logs["e2e_crashes", task_id, 1]


def test_xcom_passes_between_taskflow_tasks(record: Record) -> None:
    assert record.xcoms["e2e_xcom", "produce"] == {"answer": 41}
    assert record.xcoms["e2e_xcom", "consume"] == 42


def test_branching_skips_the_branch_not_taken_and_its_downstream(record: Record) -> None:
    states = {task_id: ti["state"] for task_id, ti in record.tis["e2e_branch"].items()}
    assert states == {
        "choose": "success",
        "left": "success",
        "right": "skipped",
        "after_right": "skipped",
    }


def test_a_pool_with_two_slots_runs_two_tasks_at_a_time(record: Record) -> None:
    spans = [(_at(ti["start_date"]), _at(ti["end_date"])) for ti in record.tis["e2e_pool"].values()]
    assert len(spans) == 5
    assert all(ti["pool"] == POOL for ti in record.tis["e2e_pool"].values())
    # Starts count +1 and ends -1; at equal times an end comes first (the slot was freed).
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == 2  # never more, yet the pool (not parallelism = 3) was the limit


def test_an_async_task_runs_a_thousand_sleeps_in_about_one_sleeps_time(record: Record) -> None:
    ti = record.ti("e2e_async", "naps")
    assert ti["state"] == "success"
    assert ti["pid"] == record.pid  # run by the in-process executor, in the event loop
    assert record.ti("e2e_xcom", "produce")["pid"] != record.pid  # a sync task: a worker
    assert record.xcoms["e2e_async", "naps"] == NAPS
    # One by one they would take NAPS seconds; the slack covers a loaded 2-core machine
    # (how fast is the benchmarks' business, that they overlap is this test's).
    assert NAP_SECONDS <= ti["duration"] < NAP_SECONDS + 10
