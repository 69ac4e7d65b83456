"""The newest serialized version of a DAG, as the CLI reads it.

Listings of DAGs and import errors are `api_dags.list_dags` and `api_dags.list_import_errors`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import serialized_dag


async def latest_serialized(tx: Transaction, dag_id: str) -> dict[str, Any] | None:
    """The newest serialized version of a DAG (JSON data), or None."""
    row = (
        await tx.execute(
            select(serialized_dag.c.data)
            .where(serialized_dag.c.dag_id == dag_id)
            .order_by(serialized_dag.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else dict(row.data)
