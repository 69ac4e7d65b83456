"""The scheduler's side of DAG callbacks: a finished run leaves a `callback_request` row.

DAG `on_success_callback` / `on_failure_callback` run in the DAG processor, which can load
the DAG file; the scheduler only records what the processor needs to find the file, the
run and the reason (Airflow's ``msg``: ``success``, ``task_failure``, ``timed_out``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import callback_request
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.sdk import DAG, PythonOperator
from tests.scheduler.dags import T0, FakeClock, memory_executor, open_scheduler, store_dag

pytestmark = pytest.mark.anyio
TI = TaskInstanceState
RUN_ID = f"scheduled__{T0.isoformat()}"


def noop() -> None:
    return None


def on_success(context: object) -> None:
    return None


def on_failure(context: object) -> None:
    return None


def fail_all(workload: Workload) -> TI:
    return TI.FAILED


async def requests(db: Database) -> list[dict[str, Any]]:
    async def body(tx: Transaction) -> list[dict[str, Any]]:
        rows = await tx.execute(select(callback_request).order_by(callback_request.c.id))
        return [dict(r) for r in rows.mappings()]

    return await db.run(body, write=False)


def two_tasks(dag_id: str, **dag_options: Any) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=T0 - timedelta(days=1), **dag_options) as dag:
        PythonOperator(task_id="a", python_callable=noop) >> PythonOperator(
            task_id="b", python_callable=noop
        )
    return dag


@pytest.mark.parametrize(
    ("outcome", "run_state", "callback_type", "msg"),
    [
        (None, "success", "dag_success", "success"),
        (fail_all, "failed", "dag_failure", "task_failure"),
    ],
)
async def test_a_finished_run_requests_its_dag_callback(
    db: Database,
    clock: FakeClock,
    outcome: Any,
    run_state: str,
    callback_type: str,
    msg: str,
) -> None:
    dag = two_tasks(
        "with_callbacks", on_success_callback=on_success, on_failure_callback=on_failure
    )
    await store_dag(db, dag, now=clock.now)
    executor = (
        memory_executor(db, clock)
        if outcome is None
        else memory_executor(db, clock, outcome=outcome)
    )
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("with_callbacks", run_state)
    [request] = await requests(db)
    assert request["callback_type"] == callback_type
    assert request["callback_data"] == {
        "dag_id": "with_callbacks",
        "run_id": RUN_ID,
        "fileloc": __file__,  # where the DAG was defined
        "dag_hash": request["callback_data"]["dag_hash"],
        "is_failure_callback": run_state == "failed",
        "msg": msg,
    }


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_a_timed_out_run_requests_the_failure_callback(
    db: Database, clock: FakeClock
) -> None:
    dag = two_tasks("slow", dagrun_timeout=timedelta(minutes=30), on_failure_callback=on_failure)
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        clock.advance(timedelta(minutes=31))
        running.handle.wake([])
        await running.wait_run_state("slow", "failed")
    [request] = await requests(db)
    assert request["callback_type"] == "dag_failure"
    assert request["callback_data"]["is_failure_callback"] is True
    assert request["callback_data"]["msg"] == "timed_out"
    assert request["callback_data"]["run_id"] == RUN_ID


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_no_request_without_the_matching_callback(db: Database, clock: FakeClock) -> None:
    await store_dag(db, two_tasks("quiet"), now=clock.now)
    await store_dag(db, two_tasks("only_success", on_success_callback=on_success), now=clock.now)
    executor = memory_executor(db, clock, outcome=fail_all)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("quiet", "failed")
        await running.wait_run_state("only_success", "failed")
    assert await requests(db) == []
