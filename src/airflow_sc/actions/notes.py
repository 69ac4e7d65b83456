"""Notes: what an operator writes on a DAG run or a task instance ("why I cleared this").

A note is text only: setting one wakes nobody. `None` removes the note.
"""

from __future__ import annotations

from collections.abc import Collection

from airflow_sc.actions.errors import DagRunNotFound
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries

__all__ = ["set_dag_run_note", "set_task_instance_notes"]


async def set_dag_run_note(db: Database, dag_id: str, run_id: str, note: str | None) -> None:
    """Set (or with None remove) the run's note; `DagRunNotFound` if there is no such run."""

    async def body(tx: Transaction) -> bool:
        return await queries.set_run_note(tx, dag_id, run_id, note)

    if not await db.run(body):
        raise DagRunNotFound(dag_id, run_id)


async def set_task_instance_notes(
    db: Database,
    dag_id: str,
    run_id: str,
    task_id: str,
    note: str | None,
    *,
    map_indexes: Collection[int] | None = None,
) -> int:
    """Set the note of a task's instances in one run (every map index unless narrowed);
    returns how many task instances were changed."""

    async def body(tx: Transaction) -> int:
        return await queries.set_task_instance_notes(
            tx, dag_id, run_id, task_id, note, map_indexes=map_indexes
        )

    return await db.run(body)
