"""The scheduler's statements: runs, task instances, pools and counts, in batches.

Every function takes an open `Transaction`; the scheduler's stages decide what to write
(pure policy) and call these to read snapshots and write results. Lock order, here as
everywhere: dag -> dag_run -> task_instance -> pool.

Task instance rows are locked in one global order, `TI_LOCK_ORDER`: by their dag run's
primary key, then by their own id. schedule_tis locks run after run (ascending primary
key) and each run's instances by id; enqueue and executor_events lock their instances
across runs in that same order. Two transactions that want overlapping rows then wait for
each other instead of deadlocking (PostgreSQL only notices a deadlock after
`deadlock_timeout`, a one-second stall, and then the transaction is retried).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import (
    callback_request,
    dag,
    dag_run,
    serialized_dag,
    slot_pool,
    task_instance,
)
from airflow_sc.db.queries import callbacks

__all__ = [
    "ENQUEUE_LOCK_KEY",
    "TI_LOCK_ORDER",
    "DueDag",
    "EventTaskInstance",
    "QueuedRunRow",
    "RunRow",
    "ScheduledRow",
    "TaskInstanceRow",
    "newest_run_states",
    "pause_dag",
]

ti = task_instance

#: The advisory lock the enqueue critical section holds on PostgreSQL (any fixed bigint).
ENQUEUE_LOCK_KEY: Final = 0x41_46_53_43_45_4E_51  # "AFSCENQ"

#: The order task instance rows are locked in, everywhere (see the module docstring).
TI_LOCK_ORDER: Final = (dag_run.c.id, ti.c.id)

_EXECUTION_STATES = ("queued", "running")
_UNFINISHED_RUN_STATES = ("queued", "running")


# -- DAG versions ----------------------------------------------------------------------


async def latest_version_ids(tx: Transaction, dag_ids: Collection[str]) -> dict[str, str]:
    """Newest serialized version id of each DAG."""
    if not dag_ids:
        return {}
    newest = (
        select(serialized_dag.c.dag_id, func.max(serialized_dag.c.created_at).label("created_at"))
        .where(serialized_dag.c.dag_id.in_(list(dag_ids)))
        .group_by(serialized_dag.c.dag_id)
        .subquery()
    )
    rows = await tx.execute(
        select(serialized_dag.c.dag_id, serialized_dag.c.id).join(
            newest,
            and_(
                newest.c.dag_id == serialized_dag.c.dag_id,
                newest.c.created_at == serialized_dag.c.created_at,
            ),
        )
    )
    return {row.dag_id: str(row.id) for row in rows}


async def version_data(tx: Transaction, version_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """Serialized data of the given DAG versions, by version id."""
    if not version_ids:
        return {}
    rows = await tx.execute(
        select(serialized_dag.c.id, serialized_dag.c.data).where(
            serialized_dag.c.id.in_(list(version_ids))
        )
    )
    return {str(row.id): dict(row.data) for row in rows}


# -- create_runs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueDag:
    dag_id: str
    next_dagrun: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    create_after: datetime
    max_active_runs: int | None


async def due_dags(tx: Transaction, *, now: datetime, limit: int) -> list[DueDag]:
    """Active, unpaused DAGs whose next scheduled run may be created now (oldest first)."""
    query = (
        select(
            dag.c.dag_id,
            dag.c.next_dagrun,
            dag.c.next_dagrun_data_interval_start,
            dag.c.next_dagrun_data_interval_end,
            dag.c.next_dagrun_create_after,
            dag.c.max_active_runs,
        )
        .where(
            dag.c.is_paused.is_(False),
            dag.c.is_stale.is_(False),
            dag.c.next_dagrun_create_after <= now,
        )
        .order_by(dag.c.next_dagrun_create_after, dag.c.dag_id)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=dag, skip_locked=True)
    return [
        DueDag(
            dag_id=row.dag_id,
            next_dagrun=row.next_dagrun,
            data_interval_start=row.next_dagrun_data_interval_start,
            data_interval_end=row.next_dagrun_data_interval_end,
            create_after=row.next_dagrun_create_after,
            max_active_runs=row.max_active_runs,
        )
        for row in await tx.execute(query)
    ]


async def unfinished_run_counts(tx: Transaction, dag_ids: Collection[str]) -> dict[str, int]:
    """Queued plus running non-backfill runs per DAG (what `max_active_runs` counts)."""
    return await _run_counts(tx, dag_ids, _UNFINISHED_RUN_STATES)


async def _run_counts(
    tx: Transaction, dag_ids: Collection[str], states: Collection[str]
) -> dict[str, int]:
    """Non-backfill runs in one of `states`, per DAG."""
    if not dag_ids:
        return {}
    rows = await tx.execute(
        select(dag_run.c.dag_id, func.count().label("n"))
        .where(
            dag_run.c.dag_id.in_(list(dag_ids)),
            dag_run.c.state.in_(list(states)),
            dag_run.c.run_type != "backfill",
        )
        .group_by(dag_run.c.dag_id)
    )
    return {row.dag_id: int(row.n) for row in rows}


async def existing_logical_dates(
    tx: Transaction, dag_id: str, dates: Collection[datetime]
) -> set[datetime]:
    if not dates:
        return set()
    return set(
        await tx.scalars(
            select(dag_run.c.logical_date).where(
                dag_run.c.dag_id == dag_id, dag_run.c.logical_date.in_(list(dates))
            )
        )
    )


async def insert_runs(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert dag_run rows; returns their ids in the same order."""
    ids: list[int] = []
    for row in rows:
        ids.append(int(await tx.scalar(insert(dag_run).values(**row).returning(dag_run.c.id))))
    return ids


async def set_next_dagrun(
    tx: Transaction,
    dag_id: str,
    *,
    next_dagrun: datetime | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    create_after: datetime | None,
) -> None:
    await tx.execute(
        update(dag)
        .where(dag.c.dag_id == dag_id)
        .values(
            next_dagrun=next_dagrun,
            next_dagrun_data_interval_start=data_interval_start,
            next_dagrun_data_interval_end=data_interval_end,
            next_dagrun_create_after=create_after,
        )
    )


# -- start_runs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedRunRow:
    id: int
    dag_id: str
    run_id: str
    run_after: datetime
    max_active_runs: int | None
    version_id: str | None
    start_date: datetime | None


async def queued_runs(tx: Transaction, *, limit: int) -> list[QueuedRunRow]:
    """Queued runs of unpaused DAGs, oldest `run_after` first."""
    query = (
        select(
            dag_run.c.id,
            dag_run.c.dag_id,
            dag_run.c.run_id,
            dag_run.c.run_after,
            dag.c.max_active_runs,
            dag_run.c.created_dag_version_id,
            dag_run.c.start_date,
        )
        .join(dag, dag.c.dag_id == dag_run.c.dag_id)
        .where(dag_run.c.state == "queued", dag.c.is_paused.is_(False))
        .order_by(dag_run.c.run_after, dag_run.c.id)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=dag_run, skip_locked=True)
    return [
        QueuedRunRow(
            id=row.id,
            dag_id=row.dag_id,
            run_id=row.run_id,
            run_after=row.run_after,
            max_active_runs=row.max_active_runs,
            version_id=None
            if row.created_dag_version_id is None
            else str(row.created_dag_version_id),
            start_date=row.start_date,
        )
        for row in await tx.execute(query)
    ]


async def running_run_counts(tx: Transaction, dag_ids: Collection[str]) -> dict[str, int]:
    """Running non-backfill runs per DAG."""
    return await _run_counts(tx, dag_ids, ("running",))


async def mark_runs_running(tx: Transaction, run_ids: Collection[int], *, now: datetime) -> None:
    if not run_ids:
        return
    ids = sorted(run_ids)
    await tx.execute(
        update(dag_run)
        .where(dag_run.c.id.in_(ids), dag_run.c.state == "queued", dag_run.c.start_date.is_(None))
        .values(start_date=now)
    )
    await tx.execute(
        update(dag_run)
        .where(dag_run.c.id.in_(ids), dag_run.c.state == "queued")
        .values(state="running", updated_at=now)
    )


async def runs_having_task_instances(
    tx: Transaction, runs: Collection[tuple[str, str]]
) -> set[tuple[str, str]]:
    if not runs:
        return set()
    rows = await tx.execute(
        select(ti.c.dag_id, ti.c.run_id)
        .where(tuple_(ti.c.dag_id, ti.c.run_id).in_(list(runs)))
        .distinct()
    )
    return {(row.dag_id, row.run_id) for row in rows}


async def insert_task_instances(tx: Transaction, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await tx.execute(insert(ti), list(rows))


# -- schedule_tis ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime | None
    start_date: datetime | None
    version_id: str | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None


@dataclass(frozen=True, slots=True)
class TaskInstanceRow:
    id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    end_date: datetime | None
    queued_by_job_id: int | None = None
    #: The retry policy's delay before the next try (seconds), when it chose one.
    next_retry_delay: float | None = None


async def running_run_ids(tx: Transaction) -> list[int]:
    """Running runs of unpaused DAGs (what a sweep of schedule_tis looks at)."""
    return [
        int(i)
        for i in await tx.scalars(
            select(dag_run.c.id)
            .join(dag, dag.c.dag_id == dag_run.c.dag_id)
            .where(dag_run.c.state == "running", dag.c.is_paused.is_(False))
            .order_by(dag_run.c.last_scheduling_decision.asc().nulls_first(), dag_run.c.id)
        )
    ]


async def lock_running_run(tx: Transaction, run_pk: int) -> RunRow | None:
    """The run if it is running and no other scheduler holds it (SKIP LOCKED)."""
    query = (
        select(
            dag_run.c.id,
            dag_run.c.dag_id,
            dag_run.c.run_id,
            dag_run.c.run_type,
            dag_run.c.logical_date,
            dag_run.c.start_date,
            dag_run.c.created_dag_version_id,
            dag_run.c.data_interval_start,
            dag_run.c.data_interval_end,
        )
        .join(dag, dag.c.dag_id == dag_run.c.dag_id)
        .where(dag_run.c.id == run_pk, dag_run.c.state == "running", dag.c.is_paused.is_(False))
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=dag_run, skip_locked=True)
    row = (await tx.execute(query)).first()
    if row is None:
        return None
    return RunRow(
        id=row.id,
        dag_id=row.dag_id,
        run_id=row.run_id,
        run_type=row.run_type,
        logical_date=row.logical_date,
        start_date=row.start_date,
        version_id=None if row.created_dag_version_id is None else str(row.created_dag_version_id),
        data_interval_start=row.data_interval_start,
        data_interval_end=row.data_interval_end,
    )


async def is_running_run(tx: Transaction, run_pk: int) -> bool:
    """Whether the run is running for an unpaused DAG (after `lock_running_run` skipped it)."""
    if tx.dialect != "postgresql":
        return False  # nothing is skipped on SQLite: one scheduler owns the database
    found = await tx.scalar(
        select(dag_run.c.id)
        .join(dag, dag.c.dag_id == dag_run.c.dag_id)
        .where(dag_run.c.id == run_pk, dag_run.c.state == "running", dag.c.is_paused.is_(False))
    )
    return found is not None


async def run_task_instances(
    tx: Transaction, dag_id: str, run_id: str, *, lock: bool = False
) -> list[TaskInstanceRow]:
    """One run's task instances by id (locked, with `lock`, in `TI_LOCK_ORDER` within it)."""
    query = (
        select(
            ti.c.id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.state,
            ti.c.try_number,
            ti.c.max_tries,
            ti.c.end_date,
            ti.c.queued_by_job_id,
            ti.c.next_retry_delay,
        )
        .where(ti.c.dag_id == dag_id, ti.c.run_id == run_id)
        .order_by(ti.c.id)
    )
    if lock and tx.dialect == "postgresql":
        query = query.with_for_update(of=ti)
    return [
        TaskInstanceRow(
            id=str(row.id),
            task_id=row.task_id,
            map_index=row.map_index,
            state=row.state,
            try_number=row.try_number,
            max_tries=row.max_tries,
            end_date=row.end_date,
            queued_by_job_id=row.queued_by_job_id,
            next_retry_delay=row.next_retry_delay,
        )
        for row in await tx.execute(query)
    ]


async def previous_run_states(
    tx: Transaction, dag_id: str, logical_date: datetime
) -> dict[str, str | None] | None:
    """Task states of the DAG's run just before `logical_date` (None: there is none)."""
    previous = (
        select(dag_run.c.run_id)
        .where(dag_run.c.dag_id == dag_id, dag_run.c.logical_date < logical_date)
        .order_by(dag_run.c.logical_date.desc())
        .limit(1)
    )
    run_id = await tx.scalar(previous)
    if run_id is None:
        return None
    rows = await tx.execute(
        select(ti.c.task_id, ti.c.state).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id)
    )
    return {row.task_id: row.state for row in rows}


async def set_task_states(
    tx: Transaction, ids: Collection[str], state: str | None, values: Mapping[str, Any]
) -> None:
    """Set `state` (and `values`) on the task instances with these ids."""
    if ids:
        await tx.execute(
            update(ti).where(ti.c.id.in_(sorted(ids))).values(state=state, **dict(values))
        )


async def finish_run(tx: Transaction, run_pk: int, *, state: str, now: datetime) -> None:
    await tx.execute(
        update(dag_run)
        .where(dag_run.c.id == run_pk)
        .values(state=state, end_date=now, updated_at=now, last_scheduling_decision=now)
    )


async def newest_run_states(tx: Transaction, dag_id: str, limit: int) -> list[str | None]:
    """The states of the DAG's `limit` newest runs (by run_after), newest first."""
    rows = await tx.execute(
        select(dag_run.c.state)
        .where(dag_run.c.dag_id == dag_id)
        .order_by(dag_run.c.run_after.desc(), dag_run.c.id.desc())
        .limit(limit)
    )
    return [row.state for row in rows]


async def pause_dag(tx: Transaction, dag_id: str) -> bool:
    """Pause the DAG; False when it was paused already (or does not exist)."""
    result = await tx.execute(
        update(dag)
        .where(dag.c.dag_id == dag_id, dag.c.is_paused.is_(False))
        .values(is_paused=True)
        .returning(dag.c.dag_id)
    )
    return result.first() is not None


async def touch_run(tx: Transaction, run_pk: int, *, now: datetime) -> None:
    await tx.execute(
        update(dag_run).where(dag_run.c.id == run_pk).values(last_scheduling_decision=now)
    )


async def request_callback(
    tx: Transaction, *, callback_type: str, data: Mapping[str, Any], now: datetime
) -> None:
    await tx.execute(
        insert(callback_request).values(
            created_at=now, priority_weight=1, callback_type=callback_type, callback_data=data
        )
    )
    await callbacks.announce(tx)  # wakes the DAG processors once `tx` commits


# -- enqueue ---------------------------------------------------------------------------


async def try_enqueue_lock(tx: Transaction) -> bool:
    """Take the enqueue critical section for this transaction; False if another holds it.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback).
    SQLite: one scheduler owns the database and writes serialize anyway.
    """
    if tx.dialect != "postgresql":
        return True
    return bool(await tx.scalar(select(func.pg_try_advisory_xact_lock(literal(ENQUEUE_LOCK_KEY)))))


@dataclass(frozen=True, slots=True)
class ScheduledRow:
    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str | None
    executor: str | None
    logical_date: datetime | None
    max_active_tasks: int
    version_id: str | None
    run_pk: int


async def scheduled_task_instances(
    tx: Transaction, *, limit: int | None = None, offset: int = 0
) -> list[ScheduledRow]:
    """Scheduled task instances of running runs of unpaused DAGs, in admission order.

    Admission order (`policy.admission.admission_order`): highest priority first, then
    earliest logical date, then ids; `limit`/`offset` page through it. Nothing is locked:
    `lock_scheduled` locks the chosen ones (in `TI_LOCK_ORDER`) and rechecks their state.
    """
    query = (
        select(
            ti.c.id,
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.try_number,
            ti.c.pool,
            ti.c.pool_slots,
            ti.c.priority_weight,
            ti.c.queue,
            ti.c.executor,
            dag_run.c.logical_date,
            dag.c.max_active_tasks,
            dag_run.c.created_dag_version_id,
            dag_run.c.id.label("run_pk"),
        )
        .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .join(dag, dag.c.dag_id == ti.c.dag_id)
        .where(ti.c.state == "scheduled", dag_run.c.state == "running", dag.c.is_paused.is_(False))
        .order_by(
            ti.c.priority_weight.desc(),
            dag_run.c.logical_date.is_(None),
            dag_run.c.logical_date,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
        )
        .limit(limit)
        .offset(offset)
    )
    return [
        ScheduledRow(
            id=str(row.id),
            dag_id=row.dag_id,
            run_id=row.run_id,
            task_id=row.task_id,
            map_index=row.map_index,
            try_number=row.try_number,
            pool=row.pool,
            pool_slots=row.pool_slots,
            priority_weight=row.priority_weight,
            queue=row.queue,
            executor=row.executor,
            logical_date=row.logical_date,
            max_active_tasks=row.max_active_tasks,
            version_id=None
            if row.created_dag_version_id is None
            else str(row.created_dag_version_id),
            run_pk=row.run_pk,
        )
        for row in await tx.execute(query)
    ]


async def pools(tx: Transaction) -> dict[str, tuple[int, int]]:
    """Every pool: name -> (slots, slots held by queued/running task instances)."""
    sizes = {row.pool: int(row.slots) for row in await tx.execute(select(slot_pool))}
    occupied = {
        row.pool: int(row.n)
        for row in await tx.execute(
            select(ti.c.pool, func.sum(ti.c.pool_slots).label("n"))
            .where(ti.c.state.in_(_EXECUTION_STATES))
            .group_by(ti.c.pool)
        )
    }
    return {name: (slots, occupied.get(name, 0)) for name, slots in sizes.items()}


async def active_counts(tx: Transaction) -> list[tuple[str, str, str, int]]:
    """(dag_id, run_id, task_id, count) of queued/running task instances."""
    rows = await tx.execute(
        select(ti.c.dag_id, ti.c.run_id, ti.c.task_id, func.count().label("n"))
        .where(ti.c.state.in_(_EXECUTION_STATES))
        .group_by(ti.c.dag_id, ti.c.run_id, ti.c.task_id)
    )
    return [(row.dag_id, row.run_id, row.task_id, int(row.n)) for row in rows]


async def lock_scheduled(tx: Transaction, ids: Collection[str]) -> set[str]:
    """Lock these task instances (in `TI_LOCK_ORDER`); the ids still scheduled.

    On PostgreSQL this waits (briefly) for rows schedule_tis or an operator action is
    changing rather than skipping them: nothing would wake enqueue for a skipped row.
    """
    if not ids:
        return set()
    query = (
        select(ti.c.id)
        .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .where(ti.c.id.in_(sorted(ids)), ti.c.state == "scheduled")
        .order_by(*TI_LOCK_ORDER)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=ti)
    return {str(i) for i in await tx.scalars(query)}


async def queue_task_instances(
    tx: Transaction,
    rows: Sequence[tuple[str, str, int]],
    *,
    from_states: Collection[str],
    now: datetime,
    job_id: int | None,
) -> None:
    """Move task instances in `from_states` to queued: (old id, new id, new try_number) each."""
    if not rows:
        return
    statement = (
        update(ti)
        .where(
            ti.c.id == bindparam("b_old"),
            # Not IN (...): an expanding parameter cannot take part in an executemany.
            or_(*(ti.c.state == state for state in sorted(from_states))),
        )
        .values(
            id=bindparam("b_new"),
            try_number=bindparam("b_try"),
            state="queued",
            queued_dttm=now,
            queued_by_job_id=job_id,
            start_date=None,
            end_date=None,
            duration=None,
            hostname=None,
            pid=None,
            updated_at=now,
        )
    )
    await tx.execute(
        statement,
        [{"b_old": old, "b_new": new, "b_try": try_number} for old, new, try_number in rows],
    )


async def fail_unroutable(
    tx: Transaction, failed: Sequence[tuple[str, str]], *, now: datetime
) -> None:
    """Fail scheduled task instances that cannot run here: (id, why) each, why as the note."""
    if not failed:
        return
    await tx.execute(
        update(ti)
        .where(ti.c.id == bindparam("b_id"), ti.c.state == "scheduled")
        .values(state="failed", note=bindparam("b_note"), end_date=now, updated_at=now),
        [{"b_id": ti_id, "b_note": why} for ti_id, why in failed],
    )


# -- executor_events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventTaskInstance:
    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None
    run_pk: int
    version_id: str | None
    logical_date: datetime | None


async def event_task_instances(tx: Transaction, ids: Iterable[str]) -> list[EventTaskInstance]:
    """The task instances events name, locked in `TI_LOCK_ORDER`."""
    listed = sorted(set(ids))
    if not listed:
        return []
    query = (
        select(
            ti.c.id,
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.state,
            ti.c.try_number,
            ti.c.max_tries,
            ti.c.start_date,
            dag_run.c.id.label("run_pk"),
            dag_run.c.created_dag_version_id,
            dag_run.c.logical_date,
        )
        .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
        .where(ti.c.id.in_(listed))
        .order_by(*TI_LOCK_ORDER)
    )
    if tx.dialect == "postgresql":
        query = query.with_for_update(of=ti)
    return [
        EventTaskInstance(
            id=str(row.id),
            dag_id=row.dag_id,
            run_id=row.run_id,
            task_id=row.task_id,
            map_index=row.map_index,
            state=row.state,
            try_number=row.try_number,
            max_tries=row.max_tries,
            start_date=row.start_date,
            run_pk=row.run_pk,
            version_id=None
            if row.created_dag_version_id is None
            else str(row.created_dag_version_id),
            logical_date=row.logical_date,
        )
        for row in await tx.execute(query)
    ]


async def apply_task_updates(tx: Transaction, updates: Sequence[Mapping[str, Any]]) -> None:
    """Write per-row changes; each mapping has `id` plus the same set of column values."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in sorted(updates, key=lambda r: str(r["id"])):
        groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for columns, rows in groups.items():
        statement = (
            update(ti)
            .where(ti.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        await tx.execute(
            statement,
            [{"b_id": row["id"], **{f"b_{c}": row[c] for c in columns}} for row in rows],
        )


async def owned_unfinished(tx: Transaction, job_id: int) -> int:
    """Task instances this scheduler queued that are still queued or running."""
    return int(
        await tx.scalar(
            select(func.count()).where(
                ti.c.queued_by_job_id == job_id, ti.c.state.in_(_EXECUTION_STATES)
            )
        )
    )
