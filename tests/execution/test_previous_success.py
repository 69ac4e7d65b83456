"""A try's context names the DAG's previous successful run (``prev_*_success``), read from
the database when the try starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run
from airflow_sc.execution.protocol import Start
from airflow_sc.execution.service import ExecutionService
from airflow_sc.task_runner.execute import run_info_of
from tests.executors.world import NOW, add_run, add_ti

pytestmark = pytest.mark.anyio


async def set_run(db: Database, run_id: str, **values: Any) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(update(dag_run).where(dag_run.c.run_id == run_id).values(**values))

    await db.run(body)


async def test_the_previous_successful_run_by_logical_date(db: Database) -> None:
    # Logical dates NOW, NOW+1d, NOW+2d, NOW+3d (add_run's order).
    for run_id in ("ok_1", "ok_2", "broken_3", "current_4"):
        await add_run(db, run_id)
    for day, run_id in enumerate(("ok_1", "ok_2"), start=0):
        await set_run(
            db,
            run_id,
            state="success",
            data_interval_start=NOW + timedelta(days=day - 1),
            data_interval_end=NOW + timedelta(days=day),
            start_date=NOW + timedelta(days=day, hours=1),
            end_date=NOW + timedelta(days=day, hours=2),
        )
    await set_run(db, "broken_3", state="failed")
    service = ExecutionService(db)
    ti_id = await add_ti(db, "work", run_id="current_4")
    context = await service.start(ti_id, Start("host", 1))
    assert context.prev_data_interval_start_success == NOW
    assert context.prev_data_interval_end_success == NOW + timedelta(days=1)
    assert context.prev_start_date_success == NOW + timedelta(days=1, hours=1)
    assert context.prev_end_date_success == NOW + timedelta(days=1, hours=2)
    # It travels to the task process and into the template context.
    run = run_info_of(type(context).from_json(context.to_json())).with_pendulum_dates()
    assert run.prev_end_date_success == NOW + timedelta(days=1, hours=2)
    assert type(run.prev_end_date_success).__module__.startswith("pendulum")

    first = await add_ti(db, "work", run_id="ok_1")
    await set_run(db, "ok_1", state="running")
    context = await service.start(first, Start("host", 1))
    assert context.prev_start_date_success is None


async def test_a_run_without_logical_date_has_no_previous_success(db: Database) -> None:
    await add_run(db, "ok")
    await set_run(db, "ok", state="success", end_date=NOW)
    await add_run(db, "manual")
    await set_run(db, "manual", logical_date=None)
    ti_id = await add_ti(db, "work", run_id="manual")
    context = await ExecutionService(db).start(ti_id, Start("host", 1))
    assert context.prev_end_date_success is None
