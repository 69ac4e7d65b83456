"""Housekeeping's statements: dead scheduler jobs, orphans, zombies, stuck queues, triggers.

Every function takes an open `Transaction`. Candidate task instances are read in batches
and, on PostgreSQL, locked `FOR UPDATE SKIP LOCKED` in primary-key order: two schedulers
doing housekeeping at once take disjoint rows and never wait on each other. Writes touch
only rows the same transaction locked. Lock order: job -> task_instance (housekeeping locks
no dag, dag_run or pool row).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, tuple_, update

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag_run, job, log, task_instance

__all__ = [
    "TaskRowData",
    "count_events",
    "dead_jobs",
    "deferred_past_timeout",
    "fail_jobs",
    "orphaned_task_instances",
    "queued_before",
    "running_silent_since",
    "update_task_instances",
    "write_events",
]

ti = task_instance
TaskRowData = Mapping[str, Any]

_TASK_COLUMNS = (
    ti.c.id,
    ti.c.dag_id,
    ti.c.run_id,
    ti.c.task_id,
    ti.c.map_index,
    ti.c.state,
    ti.c.try_number,
    ti.c.max_tries,
    ti.c.executor,
    ti.c.queued_by_job_id,
    ti.c.start_date,
    ti.c.queued_dttm,
    ti.c.last_heartbeat_at,
    ti.c.trigger_timeout,
    dag_run.c.id.label("run_pk"),
)


def _task_rows(tx: Transaction, where: Any, limit: int) -> Select[Any]:
    query = (
        select(*_TASK_COLUMNS)
        .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .where(where)
        .order_by(ti.c.id)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=ti, skip_locked=True)
    return query


async def _read(tx: Transaction, query: Select[Any]) -> list[dict[str, Any]]:
    rows = await tx.execute(query)
    out = []
    for row in rows.mappings():
        item = dict(row)
        item["id"] = str(item["id"])
        out.append(item)
    return out


# -- scheduler jobs --------------------------------------------------------------------


async def dead_jobs(
    tx: Transaction, *, job_type: str, stale_before: datetime, exclude: int | None
) -> list[int]:
    """Jobs of `job_type` still marked running whose last heartbeat is older than allowed.

    Locked (SKIP LOCKED on PostgreSQL) so that one scheduler at a time declares a job dead.
    """
    query = (
        select(job.c.id)
        .where(
            job.c.job_type == job_type,
            job.c.state == "running",
            or_(job.c.latest_heartbeat.is_(None), job.c.latest_heartbeat < stale_before),
        )
        .order_by(job.c.id)
    )
    if exclude is not None:
        query = query.where(job.c.id != exclude)
    if tx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [int(i) for i in await tx.scalars(query)]


async def fail_jobs(tx: Transaction, job_ids: Collection[int], *, now: datetime) -> None:
    if not job_ids:
        return
    await tx.execute(
        update(job)
        .where(job.c.id.in_(sorted(job_ids)), job.c.state == "running")
        .values(state="failed", end_date=now)
    )


async def orphaned_task_instances(
    tx: Transaction,
    *,
    job_type: str,
    alive_since: datetime | None,
    exclude: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Task instances in flight (queued, running, restarting) whose queuing job of
    `job_type` is not alive.

    Alive: the job row is `running` with a heartbeat at or after `alive_since` (any
    `running` job when it is None). Task instances with no queuing job are left alone
    (nothing says who runs them).
    """
    alive = select(job.c.id).where(job.c.job_type == job_type, job.c.state == "running")
    if alive_since is not None:
        alive = alive.where(job.c.latest_heartbeat >= alive_since)
    owned_by_job = select(job.c.id).where(job.c.job_type == job_type)
    where = and_(
        ti.c.state.in_(("queued", "running", "restarting")),
        ti.c.queued_by_job_id.in_(owned_by_job),
        ti.c.queued_by_job_id.not_in(alive),
    )
    if exclude is not None:
        where = and_(where, ti.c.queued_by_job_id != exclude)
    return await _read(tx, _task_rows(tx, where, limit))


# -- task instances --------------------------------------------------------------------


async def running_silent_since(
    tx: Transaction, *, stale_before: datetime, queued_by: int | None, limit: int
) -> list[dict[str, Any]]:
    """Running task instances whose last sign of life is older than `stale_before`.

    Only those queued by job `queued_by`, when given: another live scheduler checks its
    own, and a dead scheduler's are orphans (reset, not failed).
    """
    # Silent: every sign of life it has is older than `stale_before` (a heartbeat column
    # left over from an earlier try must not hide a newer start), as `is_zombie` judges.
    signs = (ti.c.last_heartbeat_at, ti.c.start_date, ti.c.queued_dttm)
    where = and_(
        ti.c.state == "running",
        or_(*(sign.is_not(None) for sign in signs)),
        *(or_(sign.is_(None), sign < stale_before) for sign in signs),
    )
    if queued_by is not None:
        where = and_(where, ti.c.queued_by_job_id == queued_by)
    return await _read(tx, _task_rows(tx, where, limit))


async def queued_before(
    tx: Transaction, *, queued_before: datetime, queued_by: int | None, limit: int
) -> list[dict[str, Any]]:
    """Task instances queued before `queued_before` (by job `queued_by`, when given)."""
    where = and_(ti.c.state == "queued", ti.c.queued_dttm < queued_before)
    if queued_by is not None:
        where = and_(where, ti.c.queued_by_job_id == queued_by)
    return await _read(tx, _task_rows(tx, where, limit))


async def deferred_past_timeout(
    tx: Transaction, *, now: datetime, limit: int
) -> list[dict[str, Any]]:
    where = and_(ti.c.state == "deferred", ti.c.trigger_timeout < now)
    return await _read(tx, _task_rows(tx, where, limit))


async def count_events(
    tx: Transaction, event: str, tries: Collection[tuple[str, str, str, int, int]]
) -> dict[tuple[str, str, str, int, int], int]:
    """How many audit-log rows named `event` each (dag_id, run_id, task_id, map_index, try) has."""
    if not tries:
        return {}
    key = (log.c.dag_id, log.c.run_id, log.c.task_id, log.c.map_index, log.c.try_number)
    rows = await tx.execute(
        select(*key, func.count())
        .where(log.c.event == event, tuple_(*key).in_(sorted(tries)))
        .group_by(*key)
    )
    counts: dict[tuple[str, str, str, int, int], int] = {}
    for row in rows:
        dag_id, run_id, task_id, map_index, try_number, count = tuple(row)
        counts[(dag_id, run_id, task_id, int(map_index), int(try_number))] = int(count)
    return counts


async def update_task_instances(
    tx: Transaction, changes: Sequence[tuple[str, str | None, Mapping[str, Any]]]
) -> int:
    """Apply (id, expected old state, values) changes; returns how many rows changed.

    A row whose state is no longer the expected one (someone else moved it) is left alone.
    """
    changed = 0
    groups: dict[tuple[str, ...], list[tuple[str, str | None, Mapping[str, Any]]]] = {}
    for change in sorted(changes, key=lambda c: c[0]):
        groups.setdefault(tuple(sorted(change[2])), []).append(change)
    for columns, rows in groups.items():
        statement = (
            update(ti)
            .where(ti.c.id == bindparam("b_id"), ti.c.state == bindparam("b_old"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        result = await tx.execute(
            statement,
            [
                {"b_id": i, "b_old": old, **{f"b_{c}": values[c] for c in columns}}
                for i, old, values in rows
            ],
        )
        changed += max(result.rowcount, 0)
    return changed


async def write_events(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> None:
    """Audit-log rows: each has event, dag_id, run_id, task_id, map_index, try_number, extra."""
    if not rows:
        return
    await tx.execute(
        insert(log),
        [
            {
                "dttm": row["dttm"],
                "event": row["event"],
                "dag_id": row["dag_id"],
                "run_id": row["run_id"],
                "task_id": row["task_id"],
                "map_index": row["map_index"],
                "try_number": row["try_number"],
                "owner": "airflow-sc",
                "extra": json.dumps(row["extra"]),
            }
            for row in rows
        ],
    )
