"""The execution service's statements for task-instance tries.

Every function takes tries by `task_instance.id` and runs inside the caller's transaction.
The service (`airflow_sc.execution.service`) decides which moves are legal (the transition
table); these only read and write. A write names the states it may move a row from, and a
row no longer in one of them (the id changes when the scheduler creates the next try, a
user cleared it, another process started it) is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag, dag_run, serialized_dag, task_instance, xcom
from airflow_sc.domain.states import TaskInstanceState, TIState

__all__ = [
    "LockedTry",
    "PreviousRun",
    "StartedTry",
    "TryScope",
    "dag_run_state",
    "end_tries",
    "find_xcom",
    "get_xcom",
    "heartbeat_tries",
    "lock_tries",
    "previous_successful_run",
    "run_dag_version",
    "run_xcoms_by_pk",
    "runs_of_tries",
    "set_xcoms",
    "skip_task_instances",
    "start_tries",
    "try_scope",
]

T = TypeVar("T")
_TI = TaskInstanceState
ti = task_instance

_RUN_OF_TI = and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id)
#: Rows per statement in the batched functions (well under SQLite's variable limit).
_CHUNK = 500


def _in_states(states: Collection[TIState]) -> Any:
    """`task_instance.state` is one of `states` (None: no state yet)."""
    values = [s.value for s in states if s is not None]
    clause = ti.c.state.in_(values)
    return or_(clause, ti.c.state.is_(None)) if None in states else clause


@dataclass(frozen=True, slots=True)
class TryScope:
    """The task instance a try belongs to (what XCom calls are scoped to)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    dag_run_pk: int


@dataclass(frozen=True, slots=True)
class StartedTry:
    """What a worker needs to run the try, read when it moved QUEUED -> RUNNING."""

    scope: TryScope
    try_number: int
    max_tries: int
    start_date: datetime
    dag_fileloc: str | None
    run_type: str
    run_after: datetime
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_start_date: datetime | None
    conf: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LockedTry:
    """A try's row as a finish reads it (locked until the transaction ends)."""

    scope: TryScope
    state: TIState
    start_date: datetime | None


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


async def try_scope(tx: Transaction, ti_id: str) -> TryScope | None:
    """The task instance and run of try `ti_id`, None when no row holds that try."""
    row = (
        await tx.execute(
            select(ti.c.dag_id, ti.c.run_id, ti.c.task_id, ti.c.map_index, dag_run.c.id)
            .join(dag_run, and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id))
            .where(ti.c.id == ti_id)
        )
    ).first()
    if row is None:
        return None
    return TryScope(row.dag_id, row.run_id, row.task_id, row.map_index, row.id)


async def run_dag_version(tx: Transaction, dag_run_pk: int) -> tuple[str, dict[str, Any]] | None:
    """The DAG version run `dag_run_pk` was created with, and its serialized data; None
    when the run or its version is gone."""
    row = (
        await tx.execute(
            select(serialized_dag.c.id, serialized_dag.c.data)
            .join(dag_run, dag_run.c.created_dag_version_id == serialized_dag.c.id)
            .where(dag_run.c.id == dag_run_pk)
        )
    ).first()
    return None if row is None else (str(row.id), dict(row.data))


async def start_tries(
    tx: Transaction,
    ti_ids: Sequence[str],
    *,
    now: datetime,
    hostname: str,
    unixname: str,
    pid: int,
    pids: Mapping[str, int] | None = None,
    from_states: Collection[TIState],
) -> dict[str, StartedTry]:
    """Move these tries to RUNNING (a compare-and-set from `from_states`) and read what
    their processes need, in two statements per chunk; absent from the answer: not moved.

    `pids` gives tries started by different processes their own pid (`pid` for the rest).
    """
    out: dict[str, StartedTry] = {}
    for chunk in _chunks(ti_ids):
        own = {ti_id: pids[ti_id] for ti_id in chunk if ti_id in pids} if pids else {}
        pid_value: Any = pid
        if own:
            pid_value = case(*((ti.c.id == i, p) for i, p in own.items()), else_=pid)
        moved = await tx.execute(
            update(ti)
            .where(ti.c.id.in_(chunk), _in_states(from_states))
            .values(
                state=_TI.RUNNING.value,
                start_date=now,
                end_date=None,
                duration=None,
                hostname=hostname,
                unixname=unixname,
                pid=pid_value,
                last_heartbeat_at=now,
                next_retry_delay=None,
                updated_at=now,
            )
            .returning(ti.c.id)
        )
        ids = moved.scalars()
        if not ids:
            continue
        rows = await tx.execute(
            select(
                ti.c.id,
                ti.c.dag_id,
                ti.c.run_id,
                ti.c.task_id,
                ti.c.map_index,
                ti.c.try_number,
                ti.c.max_tries,
                dag_run.c.id.label("run_pk"),
                dag_run.c.run_type,
                dag_run.c.run_after,
                dag_run.c.logical_date,
                dag_run.c.data_interval_start,
                dag_run.c.data_interval_end,
                dag_run.c.start_date.label("run_start_date"),
                dag_run.c.conf,
                dag.c.fileloc,
            )
            .select_from(ti.join(dag_run, _RUN_OF_TI).outerjoin(dag, dag.c.dag_id == ti.c.dag_id))
            .where(ti.c.id.in_(ids))
        )
        for row in rows:
            out[row.id] = StartedTry(
                scope=TryScope(row.dag_id, row.run_id, row.task_id, row.map_index, row.run_pk),
                try_number=row.try_number,
                max_tries=row.max_tries,
                start_date=now,
                dag_fileloc=row.fileloc,
                run_type=row.run_type,
                run_after=row.run_after,
                logical_date=row.logical_date,
                data_interval_start=row.data_interval_start,
                data_interval_end=row.data_interval_end,
                run_start_date=row.run_start_date,
                conf=dict(row.conf or {}),
            )
    return out


async def heartbeat_tries(tx: Transaction, ti_ids: Sequence[str], *, now: datetime) -> set[str]:
    """Record that these tries are alive, one statement per chunk; the ids still running."""
    alive: set[str] = set()
    for chunk in _chunks(ti_ids):
        moved = await tx.execute(
            update(ti)
            .where(ti.c.id.in_(list(chunk)), ti.c.state == _TI.RUNNING.value)
            .values(last_heartbeat_at=now)
            .returning(ti.c.id)
        )
        alive.update(row.id for row in moved)
    return alive


async def lock_tries(tx: Transaction, ti_ids: Sequence[str]) -> dict[str, LockedTry]:
    """The rows holding these tries, locked (PostgreSQL) until the transaction ends."""
    out: dict[str, LockedTry] = {}
    for chunk in _chunks(sorted(set(ti_ids))):
        rows = await tx.execute(
            select(
                ti.c.id,
                ti.c.state,
                ti.c.start_date,
                ti.c.dag_id,
                ti.c.run_id,
                ti.c.task_id,
                ti.c.map_index,
                dag_run.c.id.label("run_pk"),
            )
            .select_from(ti.join(dag_run, _RUN_OF_TI))
            .where(ti.c.id.in_(list(chunk)))
            .order_by(dag_run.c.id, ti.c.id)
            .with_for_update(of=ti)
        )
        for row in rows:
            out[row.id] = LockedTry(
                TryScope(row.dag_id, row.run_id, row.task_id, row.map_index, row.run_pk),
                None if row.state is None else _TI(row.state),
                row.start_date,
            )
    return out


async def end_tries(
    tx: Transaction,
    ends: Sequence[tuple[str, TaskInstanceState, float | None, float | None]],
    *,
    from_state: TaskInstanceState,
    now: datetime,
) -> None:
    """(ti_id, new state, duration, retry policy's delay) each: end these tries at `now`, if
    still `from_state`."""
    if not ends:
        return
    await tx.execute(
        update(ti)
        .where(ti.c.id == bindparam("ti_id"), ti.c.state == from_state.value)
        .values(
            state=bindparam("new_state"),
            end_date=now,
            duration=bindparam("new_duration"),
            next_retry_delay=bindparam("new_retry_delay"),
            updated_at=now,
        ),
        [
            {
                "ti_id": ti_id,
                "new_state": state.value,
                "new_duration": duration,
                "new_retry_delay": delay,
            }
            for ti_id, state, duration, delay in ends
        ],
    )


async def skip_task_instances(
    tx: Transaction,
    scope: TryScope,
    task_ids: Collection[str],
    *,
    from_states: Collection[TIState],
    now: datetime,
) -> tuple[str, ...]:
    """Skip the task instances of `task_ids` in the scope's run that are in `from_states`
    (a branch not taken); the task ids skipped."""
    if not task_ids:
        return ()
    rows = await tx.execute(
        update(ti)
        .where(
            ti.c.dag_id == scope.dag_id,
            ti.c.run_id == scope.run_id,
            ti.c.task_id.in_(sorted(task_ids)),
            _in_states(from_states),
        )
        .values(
            state=_TI.SKIPPED.value,
            start_date=now,
            end_date=now,
            duration=literal(0.0),
            updated_at=now,
        )
        .returning(ti.c.task_id)
    )
    return tuple(sorted(set(rows.scalars())))


async def get_xcom(
    tx: Transaction, scope: TryScope, *, task_id: str, key: str, map_index: int
) -> tuple[bool, Any]:
    """(found, value) of the XCom `task_id` pushed under `key` in the scope's run."""
    row = (
        await tx.execute(
            select(xcom.c.value).where(
                xcom.c.dag_run_id == scope.dag_run_pk,
                xcom.c.task_id == task_id,
                xcom.c.map_index == map_index,
                xcom.c.key == key,
            )
        )
    ).first()
    return (False, None) if row is None else (True, row[0])


async def find_xcom(
    tx: Transaction,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    map_index: int,
    include_prior_dates: bool,
) -> tuple[bool, Any]:
    """(found, value) of an XCom of run `run_id` of `dag_id`; with `include_prior_dates`,
    the newest of that run's and of the DAG's runs with an earlier logical date (a run
    without one is ordered by its run_after)."""
    target = (
        await tx.execute(
            select(dag_run.c.id, dag_run.c.logical_date, dag_run.c.run_after).where(
                dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id
            )
        )
    ).first()
    if target is None:
        return (False, None)
    query = select(xcom.c.value).where(
        xcom.c.task_id == task_id, xcom.c.key == key, xcom.c.map_index == map_index
    )
    if not include_prior_dates:
        query = query.where(xcom.c.dag_run_id == target.id)
    else:
        when = func.coalesce(dag_run.c.logical_date, dag_run.c.run_after)
        query = (
            query.join(dag_run, dag_run.c.id == xcom.c.dag_run_id)
            .where(
                dag_run.c.dag_id == dag_id,
                when <= (target.logical_date or target.run_after),
            )
            .order_by(when.desc(), xcom.c.timestamp.desc())
            .limit(1)
        )
    row = (await tx.execute(query)).first()
    return (False, None) if row is None else (True, row[0])


async def set_xcoms(
    tx: Transaction, pushes: Sequence[tuple[TryScope, str, Any]], *, now: datetime
) -> None:
    """Store each (scope, key, value) for the scope's task instance (replacing older ones)."""
    if not pushes:
        return
    await tx.execute(
        delete(xcom).where(
            xcom.c.dag_run_id == bindparam("run_pk"),
            xcom.c.task_id == bindparam("x_task_id"),
            xcom.c.map_index == bindparam("x_map_index"),
            xcom.c.key == bindparam("x_key"),
        ),
        [
            {
                "run_pk": scope.dag_run_pk,
                "x_task_id": scope.task_id,
                "x_map_index": scope.map_index,
                "x_key": key,
            }
            for scope, key, _ in pushes
        ],
    )
    await tx.execute(
        insert(xcom),
        [
            {
                "dag_run_id": scope.dag_run_pk,
                "task_id": scope.task_id,
                "map_index": scope.map_index,
                "key": key,
                "dag_id": scope.dag_id,
                "run_id": scope.run_id,
                "value": value,
                "timestamp": now,
            }
            for scope, key, value in pushes
        ],
    )


async def run_xcoms_by_pk(tx: Transaction, run_pk: int) -> dict[tuple[str, int, str], Any]:
    """Every XCom of DAG run `run_pk` (dag_run.id), by (task_id, map_index, key)."""
    rows = await tx.execute(
        select(xcom.c.task_id, xcom.c.map_index, xcom.c.key, xcom.c.value).where(
            xcom.c.dag_run_id == run_pk
        )
    )
    return {(r.task_id, r.map_index, r.key): r.value for r in rows}


async def runs_of_tries(tx: Transaction, ti_ids: Sequence[str]) -> dict[str, int]:
    """The dag_run.id of each try that exists, by try id."""
    out: dict[str, int] = {}
    for chunk in _chunks(ti_ids):
        rows = await tx.execute(
            select(ti.c.id, dag_run.c.id.label("run_pk"))
            .select_from(ti.join(dag_run, _RUN_OF_TI))
            .where(ti.c.id.in_(chunk))
        )
        out.update({row.id: row.run_pk for row in rows})
    return out


async def dag_run_state(tx: Transaction, dag_id: str, run_id: str) -> tuple[bool, str | None]:
    """(found, state) of the DAG run `run_id` of `dag_id`."""
    row = (
        await tx.execute(
            select(dag_run.c.state).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
        )
    ).first()
    return (False, None) if row is None else (True, row[0])


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """The dates of a DAG's earlier run (``prev_*_success`` in a task's context)."""

    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None


async def previous_successful_run(
    tx: Transaction, dag_id: str, logical_date: datetime
) -> PreviousRun | None:
    """The DAG's newest successful run with a logical date before `logical_date`."""
    row = (
        await tx.execute(
            select(
                dag_run.c.data_interval_start,
                dag_run.c.data_interval_end,
                dag_run.c.start_date,
                dag_run.c.end_date,
            )
            .where(
                dag_run.c.dag_id == dag_id,
                dag_run.c.logical_date < logical_date,
                dag_run.c.state == "success",
            )
            .order_by(dag_run.c.logical_date.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return PreviousRun(row.data_interval_start, row.data_interval_end, row.start_date, row.end_date)
