"""Pause and unpause a DAG."""

from __future__ import annotations

from airflow_sc.actions.errors import DagNotFound
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries


async def set_dag_paused(db: Database, dag_id: str, paused: bool, *, wake: Wake = no_wake) -> None:
    """Pause (no new runs, no new task instances queued) or unpause a DAG."""

    async def body(tx: Transaction) -> bool:
        return await queries.set_paused(tx, dag_id, paused)

    if not await db.run(body):
        raise DagNotFound(dag_id)
    wake(())
