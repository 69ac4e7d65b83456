"""DAG callbacks run in the DAG processor: real DAG files, real children, real databases."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, insert, select

from airflow_sc.dag_processing.callbacks import (
    DagCallbacks,
    callback_log_path,
    serve_dag_callbacks,
)
from airflow_sc.dag_processing.parser_pool import ParserPool, open_parser_pool
from airflow_sc.dag_processing.processor import DagProcessor
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import callback_request, dag_run
from airflow_sc.db.queries import callbacks as queries
from airflow_sc.db.queries import scheduling
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.testing import open_service_group
from tests.scheduler.dags import FakeClock, memory_executor, open_scheduler

pytestmark = pytest.mark.anyio

DAG_FILE = """
import json, os, time
from datetime import datetime
from airflow_sc.sdk import DAG, PythonOperator

MARKER = {marker!r}

def record(context):
    run = context["dag_run"]
    with open(MARKER, "a") as out:
        out.write(json.dumps({{
            "dag_id": context["dag"].dag_id, "run_id": context["run_id"],
            "reason": context["reason"], "state": run.state, "ds": context.get("ds"),
            "pid": os.getpid(),
        }}) + "\\n")
    print("recorded", context["run_id"])

def boom(context):
    raise RuntimeError("callback broke on purpose")

def hang(context):
    with open(MARKER + ".pid", "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)

def wait_for_go(context):
    with open(MARKER + ".pid", "w") as out:
        out.write(str(os.getpid()))
    while not os.path.exists(MARKER + ".go"):
        time.sleep(0.02)
    record(context)

with DAG("{dag_id}", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False,
         on_success_callback={on_success}, on_failure_callback={on_failure}):
    PythonOperator(task_id="work", python_callable=lambda: None)
"""


def write_dag(
    folder: Path, dag_id: str, *, on_success: str = "None", on_failure: str = "None"
) -> Path:
    """A DAG file whose callbacks append JSON lines to `<folder>/<dag_id>.marker`."""
    path = folder / f"{dag_id}.py"
    marker = str(folder / f"{dag_id}.marker")
    path.write_text(
        DAG_FILE.format(marker=marker, dag_id=dag_id, on_success=on_success, on_failure=on_failure)
    )
    return path


def marks(folder: Path, dag_id: str) -> list[dict[str, Any]]:
    marker = folder / f"{dag_id}.marker"
    if not marker.exists():
        return []
    return [json.loads(line) for line in marker.read_text().splitlines()]


async def wait_until(predicate: Any, seconds: float = 20) -> None:
    """Poll real state (files, processes) until `predicate()` holds, within a deadline."""
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.05)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "dags"
    path.mkdir()
    return path


@pytest.fixture
async def pool() -> AsyncIterator[ParserPool]:
    async with open_parser_pool(2, file_timeout=20, max_memory=0) as parsers:
        yield parsers


def runner(db: Database, pool: ParserPool, folder: Path) -> DagCallbacks:
    return DagCallbacks(
        db, pool, folder.parent / "logs", folder_of=lambda _p: str(folder), concurrency=2
    )


async def parse(db: Database, pool: ParserPool, folder: Path) -> None:
    processor = DagProcessor(db, pool, [folder], paused_by_default=False)
    stats = await processor.refresh()
    assert stats.errors == 0


async def request(
    db: Database, folder: Path, dag_id: str, *, failed: bool = True, run_id: str = "manual__1"
) -> None:
    """A finished run and its callback request, as the scheduler writes them."""
    now = datetime.now(UTC)

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(dag_run).values(
                dag_id=dag_id,
                run_id=run_id,
                state="failed" if failed else "success",
                run_type="manual",
                run_after=now,
                logical_date=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=len(run_id)),
                start_date=now,
                end_date=now,
                conf={},
            )
        )
        await scheduling.request_callback(
            tx,
            callback_type="dag_failure" if failed else "dag_success",
            data={
                "dag_id": dag_id,
                "run_id": run_id,
                "fileloc": str(folder / f"{dag_id}.py"),
                "is_failure_callback": failed,
                "msg": "task_failure" if failed else "success",
            },
            now=now,
        )

    await db.run(body)


async def pending(db: Database) -> int:
    return int(
        await db.run(
            lambda tx: tx.scalar(select(func.count()).select_from(callback_request)), write=False
        )
    )


@pytest.mark.parametrize("failing", [True, False], ids=["failure", "success"])
async def test_callback_runs_exactly_once_when_the_run_finishes(
    db: Database, pool: ParserPool, folder: Path, failing: bool
) -> None:
    write_dag(folder, "etl", on_success="record", on_failure="record")
    await parse(db, pool, folder)

    def outcome(workload: Workload) -> TaskInstanceState:
        return TaskInstanceState.FAILED if failing else TaskInstanceState.SUCCESS

    state = "failed" if failing else "success"
    clock = FakeClock(datetime.now(UTC))
    async with open_scheduler(db, [memory_executor(db, clock, outcome=outcome)], clock) as running:
        [run] = await running.wait_run_state("etl", state)

    callbacks = runner(db, pool, folder)
    [done] = await callbacks.run_pending()
    assert done.ok
    assert await callbacks.run_pending() == []  # claimed means done: never run twice
    [mark] = marks(folder, "etl")
    assert mark["dag_id"] == "etl"
    assert mark["run_id"] == run["run_id"]
    assert mark["reason"] == ("task_failure" if failing else "success")
    assert mark["state"] == state
    assert mark["ds"] == run["logical_date"].strftime("%Y-%m-%d")
    assert mark["pid"] != os.getpid()  # in a child, never in the processor itself
    log_text = done.log_path.read_text()
    assert done.log_path == callback_log_path(
        folder.parent / "logs", dag_id="etl", run_id=run["run_id"]
    )
    assert f"recorded {run['run_id']}" in log_text  # print() lands in the callback log
    assert ("on_failure_callback" if failing else "on_success_callback") in log_text


async def test_the_processor_is_woken_when_a_request_is_written(
    db: Database, pool: ParserPool, folder: Path
) -> None:
    write_dag(folder, "woken", on_failure="record")
    callbacks = runner(db, pool, folder)
    # PostgreSQL: only the notification can wake it this soon; SQLite: its short sweep.
    sweep = 3600.0 if db.dialect == "postgresql" else None
    async with open_service_group() as tg:
        await tg.start(
            lambda task_status: serve_dag_callbacks(
                callbacks, sweep_interval=sweep, task_status=task_status
            )
        )
        await request(db, folder, "woken")
        await wait_until(lambda: len(marks(folder, "woken")) == 1, seconds=10)
        await request(db, folder, "woken", run_id="manual__02")
        await wait_until(lambda: len(marks(folder, "woken")) == 2, seconds=10)
    assert [m["run_id"] for m in marks(folder, "woken")] == ["manual__1", "manual__02"]
    assert await pending(db) == 0


async def test_failing_and_hanging_callbacks_are_logged_and_others_still_run(
    sqlite_database_url: str, folder: Path
) -> None:
    write_dag(folder, "hangs", on_failure="hang")
    write_dag(folder, "raises", on_failure="[boom, record]")
    write_dag(folder, "fine", on_failure="record")
    async with (
        open_database(sqlite_database_url) as db,
        open_parser_pool(2, file_timeout=2, max_memory=0) as pool,
        open_service_group() as tg,
    ):
        callbacks = runner(db, pool, folder)
        for dag_id in ("hangs", "raises", "fine"):  # claimed in this order, two at a time
            await request(db, folder, dag_id)
        await tg.start(serve_dag_callbacks, callbacks)
        stats = callbacks.statistics
        await wait_until(lambda: stats.succeeded + stats.failed == 3)
        # One request later: the processor still serves after a hang and an exception.
        await request(db, folder, "fine", run_id="manual__02")
        await wait_until(lambda: stats.succeeded == 2)

    assert (stats.claimed, stats.succeeded, stats.failed) == (4, 2, 2)
    assert len(marks(folder, "fine")) == 2
    assert len(marks(folder, "raises")) == 1  # the callable after the one that raised ran
    logs = folder.parent / "logs"
    raised = callback_log_path(logs, dag_id="raises", run_id="manual__1").read_text()
    assert "RuntimeError: callback broke on purpose" in raised
    hung = callback_log_path(logs, dag_id="hangs", run_id="manual__1").read_text()
    assert "timed out after 2s running DAG callbacks" in hung
    pid = int((folder / "hangs.marker.pid").read_text())
    await wait_until(lambda: not _alive(pid), seconds=5)


async def test_a_dag_gone_from_its_file_or_a_file_gone_is_logged(
    sqlite_database_url: str, pool: ParserPool, folder: Path
) -> None:
    write_dag(folder, "renamed", on_failure="record")
    async with open_database(sqlite_database_url) as db:
        await request(db, folder, "renamed")
        await request(db, folder, "deleted")  # never written: no such file
        (folder / "renamed.py").write_text(
            (folder / "renamed.py").read_text().replace('DAG("renamed"', 'DAG("new_name"')
        )
        callbacks = runner(db, pool, folder)
        outcomes = {o.dag_id: o for o in await callbacks.run_pending()}
    assert not outcomes["renamed"].ok
    assert "does not define DAG 'renamed'" in outcomes["renamed"].log_path.read_text()
    assert not outcomes["deleted"].ok
    assert "is gone" in outcomes["deleted"].log_path.read_text()
    assert marks(folder, "renamed") == []


async def test_shutdown_lets_a_running_callback_finish_and_claims_no_more(
    sqlite_database_url: str, folder: Path
) -> None:
    write_dag(folder, "slow", on_failure="wait_for_go")
    pid_file = folder / "slow.marker.pid"
    async with (
        open_database(sqlite_database_url) as db,
        open_parser_pool(2, file_timeout=20, max_memory=0) as pool,
        open_service_group() as tg,
    ):
        callbacks = runner(db, pool, folder)
        await request(db, folder, "slow")
        await tg.start(serve_dag_callbacks, callbacks)
        await wait_until(pid_file.exists)
        drained = anyio.Event()

        async def drain() -> None:
            await callbacks.drain()
            drained.set()

        tg.start_soon(drain)
        await request(db, folder, "slow", run_id="manual__02")  # arrives while draining
        (folder / "slow.marker.go").touch()
        with anyio.fail_after(10):
            await drained.wait()
        assert [m["run_id"] for m in marks(folder, "slow")] == ["manual__1"]
        assert await pending(db) == 1  # left for the next processor


async def test_a_callback_cancelled_mid_run_is_killed_and_not_run_again(
    sqlite_database_url: str, folder: Path
) -> None:
    write_dag(folder, "stuck", on_failure="hang")
    pid_file = folder / "stuck.marker.pid"
    async with (
        open_database(sqlite_database_url) as db,
        open_parser_pool(1, file_timeout=60, max_memory=0) as pool,
    ):
        callbacks = runner(db, pool, folder)
        await request(db, folder, "stuck")
        async with open_service_group() as tg:
            await tg.start(serve_dag_callbacks, callbacks)
            # The callback writes its pid: wait for the text, not just the file.
            await wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
        # Leaving the group cancelled the service while the callback ran.
        pid = int(pid_file.read_text())
        await wait_until(lambda: not _alive(pid), seconds=5)  # no orphan left behind
        assert await pending(db) == 0
        log_text = callback_log_path(
            folder.parent / "logs", dag_id="stuck", run_id="manual__1"
        ).read_text()
        assert "interrupted by shutdown" in log_text


@pytest.mark.postgres
async def test_concurrent_claims_never_take_the_same_request(postgres_database_url: str) -> None:
    now = datetime.now(UTC)
    async with (
        open_database(postgres_database_url) as first,
        open_database(postgres_database_url) as second,
    ):

        async def fill(tx: Transaction) -> None:
            for n in range(60):
                await scheduling.request_callback(
                    tx,
                    callback_type="dag_failure",
                    data={"dag_id": "d", "run_id": f"r{n}", "is_failure_callback": True},
                    now=now,
                )

        await first.run(fill)
        taken: dict[str, list[int]] = {"first": [], "second": []}

        async def drain(name: str, db: Database) -> None:
            while True:

                async def body(tx: Transaction) -> list[int]:
                    claimed = await queries.claim_callbacks(tx, limit=4)
                    return [c.id for c in claimed]

                ids = await db.run(body)
                if not ids:
                    return
                taken[name].extend(ids)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, "first", first)
            tg.start_soon(drain, "second", second)

        assert not set(taken["first"]) & set(taken["second"])
        assert len(taken["first"]) + len(taken["second"]) == 60
        assert await pending(first) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie counts as gone: it no longer runs anything.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False
