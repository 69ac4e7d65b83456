"""Rows written straight into the metadata database for the read-route tests.

Not a test module of its own: the DAG run, task instance, XCom and log tests import these.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag, dag_run, task_instance, task_instance_history, xcom

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


async def add_dag(db: Database, dag_id: str, **values: Any) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(insert(dag).values(dag_id=dag_id, **values))

    await db.run(body)


async def add_run(
    db: Database,
    dag_id: str,
    run_id: str,
    *,
    state: str = "success",
    run_type: str = "manual",
    offset_hours: float = 0,
    **values: Any,
) -> int:
    """A run `offset_hours` after T0 that took a minute (unless told otherwise); its id."""
    when = T0 + timedelta(hours=offset_hours)
    row: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "state": state,
        "run_type": run_type,
        "run_after": when,
        "logical_date": when,
        "queued_at": when,
        "start_date": when,
        "end_date": when + timedelta(minutes=1) if state in ("success", "failed") else None,
        "conf": {},
        "triggered_by": "rest_api",
    }
    row.update(values)

    async def body(tx: Transaction) -> int:
        await tx.execute(insert(dag_run).values(**row))
        return int(
            await tx.scalar(
                select(dag_run.c.id).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
            )
        )

    return await db.run(body)


def _ti_values(dag_id: str, run_id: str, task_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": -1,
        "state": "success",
        "try_number": 1,
        "max_tries": 0,
        "pool": "default_pool",
        "queue": "default",
        "operator": "PythonOperator",
        "start_date": T0,
        "end_date": T0 + timedelta(seconds=5),
        "duration": 5.0,
        "executor_config": {},
    }
    row.update(values)
    return row


async def add_ti(db: Database, dag_id: str, run_id: str, task_id: str, **values: Any) -> str:
    """A task instance (default: succeeded on its first try); its id."""
    row = {"id": str(uuid.uuid4()), **_ti_values(dag_id, run_id, task_id, **values)}

    async def body(tx: Transaction) -> None:
        await tx.execute(insert(task_instance).values(**row))

    await db.run(body)
    return str(row["id"])


async def add_try(db: Database, dag_id: str, run_id: str, task_id: str, **values: Any) -> None:
    """A recorded earlier try in task_instance_history."""
    row = {"task_instance_id": str(uuid.uuid4()), **_ti_values(dag_id, run_id, task_id, **values)}

    async def body(tx: Transaction) -> None:
        await tx.execute(insert(task_instance_history).values(**row))

    await db.run(body)


async def add_xcom(
    db: Database,
    run_pk: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    value: Any,
    *,
    map_index: int = -1,
) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(xcom).values(
                dag_run_id=run_pk,
                dag_id=dag_id,
                run_id=run_id,
                task_id=task_id,
                key=key,
                value=value,
                map_index=map_index,
                timestamp=T0,
            )
        )

    await db.run(body)
