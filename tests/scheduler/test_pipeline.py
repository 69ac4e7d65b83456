"""The pipeline end to end: a due DAG runs to success through every stage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_sc.db import Database
from airflow_sc.sdk import DAG, EmptyOperator, PythonOperator
from tests.scheduler.dags import (
    T0,
    FakeClock,
    history,
    memory_executor,
    open_scheduler,
    states,
    store_dag,
    tis,
)

pytestmark = pytest.mark.anyio


def noop() -> None:
    return None


def chain_dag(dag_id: str = "chain", **kwargs: object) -> DAG:
    kwargs.setdefault("schedule", "@daily")
    kwargs.setdefault("start_date", T0 - timedelta(days=1))
    with DAG(dag_id, **kwargs) as dag:  # type: ignore[arg-type]
        a = PythonOperator(task_id="a", python_callable=noop)
        b = PythonOperator(task_id="b", python_callable=noop)
        c = PythonOperator(task_id="c", python_callable=noop)
        a >> b >> c
    return dag


async def test_due_dag_runs_to_success(db: Database, clock: FakeClock) -> None:
    await store_dag(db, chain_dag(), now=clock.now)
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        found = await running.wait_run_state("chain", "success")
    assert len(found) == 1
    run = found[0]
    assert run["run_id"] == f"scheduled__{T0.isoformat()}"  # Airflow 3: cron triggers at T0
    assert run["run_type"] == "scheduled"
    assert run["end_date"] == clock.now
    assert states(await tis(db, "chain")) == {"a": "success", "b": "success", "c": "success"}
    # Upstream first, each task once, first try.
    assert [w.key.task_id for w in executor.submitted] == ["a", "b", "c"]
    assert {w.key.try_number for w in executor.submitted} == {1}
    assert [(h["task_id"], h["try_number"], h["state"]) for h in await history(db, "chain")] == [
        ("a", 1, "success"),
        ("b", 1, "success"),
        ("c", 1, "success"),
    ]


async def test_empty_operators_succeed_without_running(db: Database, clock: FakeClock) -> None:
    with DAG("empties", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        start = EmptyOperator(task_id="start")
        work = PythonOperator(task_id="work", python_callable=noop)
        end = EmptyOperator(task_id="end")
        start >> work >> end
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("empties", "success")
    assert [w.key.task_id for w in executor.submitted] == ["work"]
    assert states(await tis(db, "empties")) == {
        "start": "success",
        "work": "success",
        "end": "success",
    }
