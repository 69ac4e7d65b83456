"""`record_history`: one row per finished try in task_instance_history.

Every writer that ends a try (the execution service, executor_events, housekeeping) copies
the try's row after moving it, in the same transaction, with this one function. It is
idempotent: a try already recorded (its `task_instance.id` is the history table's primary
key) is skipped, so a replayed batch or two writers racing to end the same try leave one
row.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import exists, insert, select

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import task_instance, task_instance_history

__all__ = ["record_history"]

ti = task_instance
_HISTORY_COLUMNS = [c.name for c in task_instance_history.c if c.name != "task_instance_id"]
#: Rows per statement (well under SQLite's variable limit).
_CHUNK = 500


async def record_history(tx: Transaction, ids: Collection[str]) -> None:
    """Copy these task instances' current try into task_instance_history, once per try."""
    listed = sorted(set(ids))
    already = exists().where(task_instance_history.c.task_instance_id == ti.c.id)
    for start in range(0, len(listed), _CHUNK):
        source = select(ti.c.id, *(ti.c[name] for name in _HISTORY_COLUMNS)).where(
            ti.c.id.in_(listed[start : start + _CHUNK]), ~already
        )
        await tx.execute(
            insert(task_instance_history).from_select(
                ["task_instance_id", *_HISTORY_COLUMNS], source
            )
        )
