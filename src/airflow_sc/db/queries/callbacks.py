"""DAG callback requests: written by the scheduler, claimed by DAG processors.

The scheduler inserts a `callback_request` row when a run of a DAG with an
``on_success_callback`` / ``on_failure_callback`` finishes, and `announce` tells every DAG
processor listening on `CALLBACK_CHANNEL` (PostgreSQL; nothing is sent on SQLite) once
that transaction commits.

A DAG processor takes rows with `claim_callbacks`, which deletes them in the claiming
transaction: a row is claimed by exactly one processor (on PostgreSQL the rows another
transaction is claiming are skipped, ``FOR UPDATE SKIP LOCKED``; on SQLite write
transactions run one at a time). Claimed means done, as in Airflow: a processor that dies
while running a callback does not run it again. A processor interrupted before a claimed
callback ran (shutdown) gives it back with `return_callbacks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, insert, select, tuple_

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import callback_request, dag, dag_run
from airflow_sc.db.notify import notify

__all__ = [
    "CALLBACK_CHANNEL",
    "ClaimedCallback",
    "RunFacts",
    "announce",
    "claim_callbacks",
    "has_callbacks",
    "return_callbacks",
]

#: The LISTEN/NOTIFY channel DAG processors listen on for new callback requests.
CALLBACK_CHANNEL: Final = "airflow_sc_callbacks"


@dataclass(frozen=True, slots=True)
class RunFacts:
    """The finished run a callback is about, as its context shows it (``dag_run``)."""

    state: str
    run_type: str
    run_after: datetime
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClaimedCallback:
    """One claimed request: the row as it was, the DAG's current file and its run."""

    id: int
    created_at: datetime
    priority_weight: int
    #: ``dag_success`` | ``dag_failure``
    callback_type: str
    data: dict[str, Any]
    #: Where the DAG is defined now (the `dag` row), else where it was when requested.
    fileloc: str | None
    #: None when the run has been deleted since.
    run: RunFacts | None

    @property
    def dag_id(self) -> str:
        return str(self.data.get("dag_id", ""))

    @property
    def run_id(self) -> str:
        return str(self.data.get("run_id", ""))


async def announce(tx: Transaction) -> None:
    """Wake the DAG processors once `tx` commits (PostgreSQL; nothing on SQLite)."""
    await notify(tx, CALLBACK_CHANNEL, "")


async def has_callbacks(tx: Transaction) -> bool:
    """Whether any request is waiting (a cheap read before a claiming write)."""
    return await tx.scalar(select(callback_request.c.id).limit(1)) is not None


async def claim_callbacks(tx: Transaction, *, limit: int) -> list[ClaimedCallback]:
    """Take up to `limit` requests, highest priority weight first, then oldest first.

    The rows are deleted in `tx`: once it commits, no other claim returns them.
    """
    if limit < 1:
        return []
    query = (
        select(callback_request)
        .order_by(callback_request.c.priority_weight.desc(), callback_request.c.id)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await tx.execute(query)).mappings()
    if not rows:
        return []
    await tx.execute(
        delete(callback_request).where(callback_request.c.id.in_([row["id"] for row in rows]))
    )
    datas = [dict(row["callback_data"] or {}) for row in rows]
    filelocs = await _filelocs(tx, {str(d.get("dag_id")) for d in datas})
    runs = await _runs(tx, {(str(d.get("dag_id")), str(d.get("run_id"))) for d in datas})
    claimed = []
    for row, data in zip(rows, datas, strict=True):
        dag_id, run_id = str(data.get("dag_id")), str(data.get("run_id"))
        claimed.append(
            ClaimedCallback(
                id=row["id"],
                created_at=row["created_at"],
                priority_weight=row["priority_weight"],
                callback_type=row["callback_type"],
                data=data,
                fileloc=filelocs.get(dag_id) or data.get("fileloc"),
                run=runs.get((dag_id, run_id)),
            )
        )
    return claimed


async def return_callbacks(tx: Transaction, callbacks: Sequence[ClaimedCallback]) -> None:
    """Put claimed requests back, as they were, for another claim (then `announce`)."""
    if not callbacks:
        return
    await tx.execute(
        insert(callback_request),
        [
            {
                "id": c.id,
                "created_at": c.created_at,
                "priority_weight": c.priority_weight,
                "callback_type": c.callback_type,
                "callback_data": c.data,
            }
            for c in callbacks
        ],
    )
    await announce(tx)


async def _filelocs(tx: Transaction, dag_ids: set[str]) -> dict[str, str]:
    rows = await tx.execute(
        select(dag.c.dag_id, dag.c.fileloc).where(dag.c.dag_id.in_(sorted(dag_ids)))
    )
    return {row.dag_id: row.fileloc for row in rows if row.fileloc}


async def _runs(tx: Transaction, keys: set[tuple[str, str]]) -> Mapping[tuple[str, str], RunFacts]:
    if not keys:
        return {}
    rows = await tx.execute(
        select(dag_run).where(tuple_(dag_run.c.dag_id, dag_run.c.run_id).in_(sorted(keys)))
    )
    return {
        (row.dag_id, row.run_id): RunFacts(
            state=row.state,
            run_type=row.run_type,
            run_after=row.run_after,
            logical_date=row.logical_date,
            data_interval_start=row.data_interval_start,
            data_interval_end=row.data_interval_end,
            start_date=row.start_date,
            end_date=row.end_date,
            conf=dict(row.conf or {}),
        )
        for row in rows
    }
