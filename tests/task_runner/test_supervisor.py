"""The child side of a try: what it does when the server takes the try away, or the DAG
file is gone. Runs through the local executor (real fork, real API, real database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag, task_instance
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.local import LocalChannel
from tests.executors.test_local import log_text, open_local, until_done, wait_for_file
from tests.executors.world import DAG_ID, ServedApi, add_run, add_ti, serve_execution_api, workload

pytestmark = pytest.mark.anyio

_TI = TaskInstanceState


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    async with open_database(sqlite_database_url) as database:
        await add_run(database)
        yield database


@pytest.fixture
async def served(db: Database) -> AsyncIterator[ServedApi]:
    async with serve_execution_api(db) as served:
        yield served


@pytest.mark.parametrize("channel", ["pipe", "http"])
async def test_a_try_cleared_while_running_stops_at_its_next_heartbeat(
    db: Database, served: ServedApi, tmp_path: Path, channel: LocalChannel
) -> None:
    """Over the pipe the worker sends the heartbeats; over HTTP a thread of the task does."""
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker), "seconds": 600})
    ti_id = await add_ti(db, "slow", run_id="run_2")
    async with open_local(served, tmp_path, channel=channel) as (executor, events):
        await executor.submit([workload(ti_id, "slow", run_id="run_2")])
        await wait_for_file(marker)

        async def clear(tx: Transaction) -> None:  # what "clear" in the UI does to the row
            await tx.execute(
                update(task_instance).where(task_instance.c.id == ti_id).values(state=None)
            )

        await db.run(clear)
        with anyio.fail_after(10):
            final = (await until_done(events, ti_id))[-1]

    # The try's failure was refused (the row is not running it any more): nothing recorded,
    # and the scheduler ignores the event, the row being another try now.
    assert final.recorded is None
    assert "TaskTerminated" in (final.info or "")
    assert "no longer running on the server" in log_text(tmp_path, "slow", run_id="run_2")


async def test_a_missing_dag_file_fails_the_try_with_the_reason_in_its_log(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    async def move(tx: Transaction) -> None:
        missing = str(tmp_path / "gone.py")
        await tx.execute(update(dag).where(dag.c.dag_id == DAG_ID).values(fileloc=missing))

    await db.run(move)
    ti_id = await add_ti(db, "succeed", max_tries=1)
    async with open_local(served, tmp_path) as (executor, events):
        await executor.submit([workload(ti_id, "succeed")])
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is _TI.UP_FOR_RETRY  # the try may be retried: the file may come back
    assert "not found" in (final.info or "")
    assert "Could not load task succeed of DAG behaviours" in log_text(tmp_path, "succeed")
