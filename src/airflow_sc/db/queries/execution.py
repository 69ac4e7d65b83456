"""What the execution API does to the database for one task-instance try.

Every function takes the try's `task_instance.id` and runs inside the caller's
transaction. A try may only move RUNNING -> terminal once, and only while the row still
holds that try (the id changes when the scheduler creates the next try), so a late call
from a killed or superseded process changes nothing and its caller gets ``None``/``False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, delete, insert, literal, or_, select, update

from airflow_sc.db.database import Transaction
from airflow_sc.db.models import dag, dag_run, task_instance, task_instance_history, xcom
from airflow_sc.domain.states import TaskInstanceState

__all__ = [
    "FINISH_STATES",
    "FinishSpec",
    "FinishedTry",
    "StartedTry",
    "TryScope",
    "finish_tries",
    "finish_try",
    "get_xcom",
    "heartbeat_tries",
    "heartbeat_try",
    "run_xcoms",
    "run_xcoms_by_pk",
    "runs_of_tries",
    "set_xcom",
    "start_tries",
    "start_try",
    "try_scope",
]

T = TypeVar("T")
_TI = TaskInstanceState
ti = task_instance

#: States a running try may end in through the execution API.
FINISH_STATES = frozenset(
    {
        _TI.SUCCESS,
        _TI.FAILED,
        _TI.UP_FOR_RETRY,
        _TI.SKIPPED,
        _TI.DEFERRED,
        _TI.UP_FOR_RESCHEDULE,
    }
)
_RUN_OF_TI = and_(dag_run.c.dag_id == ti.c.dag_id, dag_run.c.run_id == ti.c.run_id)
#: Rows per statement in the batched functions (well under SQLite's variable limit).
_CHUNK = 500

#: Downstream states a branch's skip list may overwrite (the TI has not run yet).
_SKIPPABLE = (_TI.SCHEDULED, _TI.UP_FOR_RETRY, _TI.UP_FOR_RESCHEDULE)


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
class FinishedTry:
    scope: TryScope
    state: TaskInstanceState
    #: Downstream task ids that were moved to SKIPPED by this finish.
    skipped: tuple[str, ...]


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


async def start_try(
    tx: Transaction,
    ti_id: str,
    *,
    now: datetime,
    hostname: str,
    unixname: str,
    pid: int,
) -> StartedTry | None:
    """QUEUED -> RUNNING for try `ti_id`; None when the row is not that try or not QUEUED.

    A try the scheduler already marked RUNNING from its executor's event (the executor
    reports the fork before the child calls in) but that no process has claimed yet
    (`pid` unset) is started too.
    """
    started = await start_tries(tx, [ti_id], now=now, hostname=hostname, unixname=unixname, pid=pid)
    return started.get(ti_id)


async def start_tries(
    tx: Transaction,
    ti_ids: Sequence[str],
    *,
    now: datetime,
    hostname: str,
    unixname: str,
    pid: int,
    pids: Mapping[str, int] | None = None,
) -> dict[str, StartedTry]:
    """`start_try` for many tries in two statements per chunk; absent: not started.

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
            .where(
                ti.c.id.in_(chunk),
                or_(
                    ti.c.state == _TI.QUEUED.value,
                    and_(ti.c.state == _TI.RUNNING.value, ti.c.pid.is_(None)),
                ),
            )
            .values(
                state=_TI.RUNNING.value,
                start_date=now,
                end_date=None,
                duration=None,
                hostname=hostname,
                unixname=unixname,
                pid=pid_value,
                last_heartbeat_at=now,
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


async def heartbeat_try(tx: Transaction, ti_id: str, *, now: datetime) -> bool:
    """Record that try `ti_id` is alive; False when the row no longer runs that try."""
    moved = await tx.execute(
        update(ti)
        .where(ti.c.id == ti_id, ti.c.state == _TI.RUNNING.value)
        .values(last_heartbeat_at=now)
        .returning(ti.c.id)
    )
    return moved.first() is not None


async def heartbeat_tries(tx: Transaction, ti_ids: Sequence[str], *, now: datetime) -> set[str]:
    """`heartbeat_try` for many tries, one statement per chunk; the ids still running."""
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


@dataclass(frozen=True, slots=True)
class FinishSpec:
    """One try's finish: its state, a branch's skip list, and XComs stored with it."""

    ti_id: str
    state: TaskInstanceState
    skip: tuple[str, ...] = ()
    xcoms: tuple[tuple[str, Any], ...] = ()


async def finish_try(
    tx: Transaction,
    ti_id: str,
    *,
    state: TaskInstanceState,
    now: datetime,
    skip: Iterable[str] = (),
) -> FinishedTry | None:
    """RUNNING -> `state` for try `ti_id`, with end_date, duration and a history row.

    The task ids in `skip` (a branch's decision) that have not run yet in the same DAG run
    become SKIPPED. None when the row does not hold that try in RUNNING.
    """
    finished = await finish_tries(tx, [FinishSpec(ti_id, state, tuple(skip))], now=now)
    return finished.get(ti_id)


async def finish_tries(
    tx: Transaction, specs: Sequence[FinishSpec], *, now: datetime
) -> dict[str, FinishedTry]:
    """`finish_try` (plus XComs) for many tries, in a few statements per chunk.

    Absent from the answer: that row does not hold the try in RUNNING (nothing written).
    """
    for spec in specs:
        if spec.state not in FINISH_STATES:
            raise ValueError(f"a try cannot finish in state {spec.state!r}")
    out: dict[str, FinishedTry] = {}
    for chunk in _chunks(specs):
        by_id = {spec.ti_id: spec for spec in chunk}
        rows = await tx.execute(
            select(
                ti.c.id,
                ti.c.start_date,
                ti.c.dag_id,
                ti.c.run_id,
                ti.c.task_id,
                ti.c.map_index,
                dag_run.c.id.label("run_pk"),
            )
            .select_from(ti.join(dag_run, _RUN_OF_TI))
            .where(ti.c.id.in_(list(by_id)), ti.c.state == _TI.RUNNING.value)
            .with_for_update(of=ti)
        )
        found = {
            row.id: (
                TryScope(row.dag_id, row.run_id, row.task_id, row.map_index, row.run_pk),
                row.start_date,
            )
            for row in rows
        }
        if not found:
            continue
        await tx.execute(
            update(ti)
            .where(ti.c.id == bindparam("ti_id"), ti.c.state == _TI.RUNNING.value)
            .values(
                state=bindparam("new_state"),
                end_date=now,
                duration=bindparam("new_duration"),
                updated_at=now,
            ),
            [
                {
                    "ti_id": ti_id,
                    "new_state": by_id[ti_id].state.value,
                    "new_duration": None if start is None else (now - start).total_seconds(),
                }
                for ti_id, (_, start) in found.items()
            ],
        )
        await _record_history(tx, list(found))
        pushes = [
            (scope, key, value)
            for ti_id, (scope, _) in found.items()
            for key, value in by_id[ti_id].xcoms
        ]
        await _set_xcoms(tx, pushes, now)
        for ti_id, (scope, _) in found.items():
            spec = by_id[ti_id]
            skipped = await _skip_downstream(tx, scope, spec.skip, now)
            out[ti_id] = FinishedTry(scope, spec.state, skipped)
    return out


async def _record_history(tx: Transaction, ti_ids: list[str]) -> None:
    names = [c.name for c in task_instance_history.columns if c.name != "task_instance_id"]
    source = select(ti.c.id, *(ti.c[name] for name in names)).where(ti.c.id.in_(ti_ids))
    await tx.execute(
        insert(task_instance_history).from_select(["task_instance_id", *names], source)
    )


async def _skip_downstream(
    tx: Transaction, scope: TryScope, task_ids: tuple[str, ...], now: datetime
) -> tuple[str, ...]:
    if not task_ids:
        return ()
    rows = await tx.execute(
        update(ti)
        .where(
            ti.c.dag_id == scope.dag_id,
            ti.c.run_id == scope.run_id,
            ti.c.task_id.in_(task_ids),
            or_(ti.c.state.is_(None), ti.c.state.in_([s.value for s in _SKIPPABLE])),
        )
        .values(state=_TI.SKIPPED.value, start_date=now, end_date=now, duration=literal(0.0))
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


async def set_xcom(
    tx: Transaction, scope: TryScope, *, key: str, value: Any, now: datetime
) -> None:
    """Store `value` under `key` for the scope's task instance (replacing an older value)."""
    await _set_xcoms(tx, [(scope, key, value)], now)


async def _set_xcoms(
    tx: Transaction, pushes: Sequence[tuple[TryScope, str, Any]], now: datetime
) -> None:
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


async def run_xcoms(tx: Transaction, scope: TryScope) -> dict[tuple[str, int, str], Any]:
    """Every XCom of the scope's DAG run, by (task_id, map_index, key)."""
    return await run_xcoms_by_pk(tx, scope.dag_run_pk)


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
