"""Whole dag_run rows by primary key (what DAG-run listeners are shown)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from airflow_sc.db import Transaction
from airflow_sc.db.models import dag_run

__all__ = ["runs_by_pk"]


async def runs_by_pk(tx: Transaction, run_pks: Collection[int]) -> dict[int, dict[str, Any]]:
    """These runs' rows (as mappings) by primary key; a run that is gone is absent."""
    if not run_pks:
        return {}
    rows = await tx.execute(select(dag_run).where(dag_run.c.id.in_(sorted(run_pks))))
    return {int(row["id"]): dict(row) for row in rows.mappings()}
