"""Pause and unpause DAGs."""

from __future__ import annotations

from collections.abc import Collection

from airflow_sc.actions.errors import DagNotFound
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries


async def set_dag_paused(db: Database, dag_id: str, paused: bool, *, wake: Wake = no_wake) -> None:
    """Pause (no new runs, no new task instances queued) or unpause a DAG."""
    if not await set_dags_paused(db, [dag_id], paused, wake=wake):
        raise DagNotFound(dag_id)


async def set_dags_paused(
    db: Database, dag_ids: Collection[str], paused: bool, *, wake: Wake = no_wake
) -> list[str]:
    """Pause or unpause several DAGs in one transaction; returns the ids that exist.

    The scheduler is woken once: an unpaused DAG may have runs or task instances waiting.
    """
    if not dag_ids:
        return []

    async def body(tx: Transaction) -> list[str]:
        return await queries.set_paused(tx, dag_ids, paused)

    found = await db.run(body)
    if found:
        wake(())
    return found
