"""Two scheduler processes on one PostgreSQL database (real processes, in-memory executor).

Each process runs `tests/scheduler/multi/run_scheduler.py`, which prints one line per try
it hands its executor. The tests read those lines and the database: no try is started
twice, both schedulers share the work, and when one is SIGKILLed the other takes its task
instances over once its heartbeat is older than the timeout.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag_run, job, log, task_instance
from airflow_sc.db.url import DatabaseUrl
from airflow_sc.scheduler.changes import Change
from airflow_sc.scheduler.changes.postgres import publish
from airflow_sc.sdk import DAG, PythonOperator
from tests.processes import Process, clean_env, running
from tests.scheduler.dags import store_dag

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]

SCRIPT = Path(__file__).parent / "multi" / "run_scheduler.py"
READY = re.compile(r"scheduler ready job=(\d+)")
#: Deadlocks PostgreSQL detected (and rolled back) in the test's database so far.
DEADLOCKS = "select deadlocks from pg_stat_database where datname = current_database()"
SUBMITTED = re.compile(r"^submitted (\S+) (\S+) (\S+) (\S+) (\d+)$")


def noop() -> None:
    return None


def wide_dag(dag_id: str, width: int) -> DAG:
    """One run due now (yesterday's interval), `width` independent tasks."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=today - timedelta(days=1),
        max_active_tasks=width,
        # One file per DAG: storing a file's DAGs replaces what that file held before.
        fileloc=f"/dags/{dag_id}.py",
    ) as dag:
        for i in range(width):
            PythonOperator(task_id=f"t{i:03d}", python_callable=noop)
    return dag


async def store_and_announce(url: str, dags: list[DAG]) -> None:
    async with open_database(url) as db:
        for one in dags:
            await store_dag(db, one, now=datetime.now(UTC))
        # Both schedulers wake now rather than at their next sweep.
        async with db.transaction() as tx:
            await publish(tx, [Change.DAG_CHANGED])


def start_scheduler(
    stack: ExitStack, tmp_path: Path, url: str, name: str, **settings: str
) -> tuple[Process, int]:
    home = tmp_path / name
    home.mkdir()
    env = clean_env(
        home,
        AIRFLOW_SC__DATABASE__URL=url,
        AIRFLOW_SC__CORE__PARALLELISM=settings.pop("parallelism", "32"),
        AIRFLOW_SC__CORE__SHUTDOWN_GRACE="5",
        AIRFLOW_SC__SCHEDULER__HEARTBEAT_INTERVAL="0.5",
        AIRFLOW_SC__SCHEDULER__HEARTBEAT_TIMEOUT=settings.pop("heartbeat_timeout", "2"),
        # Short sweeps: each scheduler keeps trying the enqueue section (which the other may
        # hold) instead of waiting for its own wake-ups, so the two share the work.
        AIRFLOW_SC__SCHEDULER__SWEEP_INTERVAL=settings.pop("sweep_interval", "0.05"),
        **settings,
    )
    process = stack.enter_context(running([sys.executable, str(SCRIPT)], env, tmp_path))
    match = process.wait_for_line(READY, timeout=60)
    return process, int(match.group(1))


def submissions(process: Process) -> list[tuple[str, str, str, str, int]]:
    found = []
    for line in process.text.splitlines():
        if match := SUBMITTED.match(line):
            ti_id, dag_id, run_id, task_id, try_number = match.groups()
            found.append((ti_id, dag_id, run_id, task_id, int(try_number)))
    return found


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    created = create_engine(DatabaseUrl.parse(postgres_database_url).sync_url, poolclass=NullPool)
    yield created
    created.dispose()


def wait_until_done(engine: Engine, total: int, processes: list[Process], seconds: float) -> None:
    """Poll the database until `total` task instances and every run succeeded."""
    deadline = time.monotonic() + seconds
    while True:
        with engine.connect() as conn:
            done = conn.scalar(select(func.count()).where(task_instance.c.state == "success"))
            unfinished_runs = conn.scalar(select(func.count()).where(dag_run.c.state != "success"))
            failed_runs = conn.scalar(select(func.count()).where(dag_run.c.state == "failed"))
        if done == total and unfinished_runs == 0:
            return
        if failed_runs:
            raise AssertionError(
                f"a run failed ({done}/{total} task instances succeeded):\n"
                + describe_unfinished(engine)
                + "\n".join(p.text[-3000:] for p in processes)
            )
        for process in processes:
            if process.popen.poll() is not None:
                raise AssertionError(f"a scheduler exited early:\n{process.text}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{done}/{total} task instances succeeded after {seconds}s:\n"
                + describe_unfinished(engine)
                + "\n".join(p.text[-3000:] for p in processes)
            )
        time.sleep(0.1)  # waiting on other processes' progress, not on a race


def describe_unfinished(engine: Engine) -> str:
    """The runs and task instances that did not succeed, and the scheduler jobs."""
    with engine.connect() as conn:
        tis = conn.execute(select(task_instance).where(task_instance.c.state != "success"))
        tis_null = conn.execute(select(task_instance).where(task_instance.c.state.is_(None)))
        runs = conn.execute(select(dag_run).where(dag_run.c.state != "success"))
        jobs = conn.execute(select(job))
        lines = [f"ti {dict(r._mapping)}" for r in [*tis, *tis_null]]
        lines += [f"run {dict(r._mapping)}" for r in runs]
        lines += [f"job {dict(r._mapping)}" for r in jobs]
        events = conn.execute(select(log.c.event, log.c.task_id, log.c.extra))
        lines += [f"event {tuple(r)}" for r in events]
        deadlocks = conn.scalar(text(DEADLOCKS))
        lines.append(f"deadlocks detected: {deadlocks}")
    return "\n".join(lines) + "\n"


def task_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(task_instance)))


def assert_clean_exit(process: Process) -> None:
    process.send(signal.SIGTERM)
    code = process.wait_exit(timeout=30)
    text = process.text
    assert code == 0, text
    assert "deadlock" not in text.lower(), text
    assert "Traceback" not in text, text


def test_two_schedulers_share_1000_task_instances_without_running_one_twice(
    tmp_path: Path, postgres_database_url: str, engine: Engine
) -> None:
    url = postgres_database_url
    dags = [wide_dag(f"wide_{i}", 100) for i in range(10)]
    with engine.connect() as conn:
        deadlocks_before = conn.scalar(text(DEADLOCKS))
    with ExitStack() as stack:
        # One on asyncio (asyncpg), one on trio (psycopg in threads). Not the 2 s heartbeat
        # timeout of the takeover test: the in-memory double never heartbeats, so on a
        # loaded machine a try whose events wait over 2 s would rightly be judged a zombie
        # (and a scheduler stalled for 2 s dead); this test is about sharing work.
        timeout = "20"
        first, first_job = start_scheduler(
            stack, tmp_path, url, "a", MULTI_BACKEND="asyncio", heartbeat_timeout=timeout
        )
        second, second_job = start_scheduler(
            stack, tmp_path, url, "b", MULTI_BACKEND="trio", heartbeat_timeout=timeout
        )
        started = time.monotonic()
        anyio.run(store_and_announce, url, dags)
        wait_until_done(engine, 1000, [first, second], seconds=180)
        elapsed = time.monotonic() - started
        assert_clean_exit(first)
        assert_clean_exit(second)

    tried = submissions(first) + submissions(second)
    keys = Counter((dag_id, run_id, task_id) for _, dag_id, run_id, task_id, _ in tried)
    assert len(keys) == 1000
    assert max(keys.values()) == 1, "a task instance was handed to an executor twice"
    rows = task_rows(engine)
    assert {(r.state, r.try_number) for r in rows} == {("success", 1)}
    by_job = Counter(r.queued_by_job_id for r in rows)
    assert set(by_job) == {first_job, second_job}, by_job
    with engine.connect() as conn:
        deadlocks = conn.scalar(text(DEADLOCKS)) - deadlocks_before
    # Every stage locks task instances in one order (scheduling.TI_LOCK_ORDER): a deadlock
    # would cost a one-second stall and a retried transaction.
    assert deadlocks == 0
    print(f"1000 TIs in {elapsed:.1f}s; queued per scheduler job: {dict(by_job)}; {deadlocks=}")


def test_the_survivor_takes_over_a_killed_schedulers_task_instances(
    tmp_path: Path, postgres_database_url: str, engine: Engine
) -> None:
    url = postgres_database_url
    with ExitStack() as stack:
        # The victim never finishes its tasks and never judges them itself (long timeout).
        victim, victim_job = start_scheduler(
            stack,
            tmp_path,
            url,
            "victim",
            MULTI_HOLD="1",
            heartbeat_timeout="60",
            parallelism="16",
        )
        anyio.run(store_and_announce, url, [wide_dag("held", 40)])
        victim.wait_for_line(SUBMITTED, timeout=60)
        survivor, survivor_job = start_scheduler(
            stack, tmp_path, url, "survivor", MULTI_BACKEND="trio", parallelism="16"
        )
        victim.send(signal.SIGKILL)
        victim.wait_exit(timeout=10)
        killed_at = time.monotonic()
        wait_until_done(engine, 40, [survivor], seconds=60)
        took_over_after = time.monotonic() - killed_at
        assert_clean_exit(survivor)

    held = {ti_id for ti_id, *_ in submissions(victim)}
    assert held
    rows = task_rows(engine)
    assert {r.state for r in rows} == {"success"}
    assert {r.queued_by_job_id for r in rows} == {survivor_job}
    # What the victim had started ran again as a new try on the survivor.
    rerun = [r for r in rows if r.try_number > 1]
    assert len(rerun) >= len(held)
    with engine.connect() as conn:
        states = dict(conn.execute(select(job.c.id, job.c.state)).all())
    assert states[victim_job] == "failed"
    assert took_over_after >= 1.0  # not before the victim's heartbeat went stale
    print(f"took over {len(held)} task instances {took_over_after:.1f}s after the kill")
