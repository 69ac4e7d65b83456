"""Clear task instances so they run again (Airflow's "Clear").

A cleared task instance goes back to no state with room for its retries again
(`max_tries = try_number + retries`); one that is queued or running goes to RESTARTING and
is scheduled again once its current try reports back. A finished run with cleared task
instances goes back to QUEUED (its start and end dates reset, `clear_number` + 1); a
running run stays RUNNING.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from airflow_sc.actions._graph import widen
from airflow_sc.actions.errors import DagNotFound
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries
from airflow_sc.db.queries import scheduling
from airflow_sc.domain.states import DagRunState, TaskInstanceState, TIState
from airflow_sc.domain.transitions import Actor, check_dag_run_transition, check_ti_transition
from airflow_sc.serialization.spec import DagSpec

_FAILED = frozenset({"failed", "upstream_failed"})
_IN_FLIGHT = frozenset({"queued", "running"})


def cleared_state(state: str | None) -> str | None:
    """What clearing a task instance in `state` moves it to (checked against the table):
    in flight, ``restarting`` (its try is stopped, then it runs again); else no state."""
    old: TIState = None if state is None else TaskInstanceState(state)
    new = TaskInstanceState.RESTARTING if state in _IN_FLIGHT else None
    check_ti_transition(old, new, actor=Actor.USER)
    return None if new is None else new.value


@dataclass(frozen=True, slots=True)
class ClearedTaskInstance:
    run_id: str
    task_id: str
    map_index: int
    #: The state the task instance had before it was cleared.
    state: str | None


async def clear_task_instances(
    db: Database,
    dag_id: str,
    *,
    now: datetime,
    run_ids: Collection[str] | None = None,
    task_ids: Collection[str] | None = None,
    include_downstream: bool = False,
    include_upstream: bool = False,
    only_failed: bool = False,
    dry_run: bool = False,
    wake: Wake = no_wake,
) -> list[ClearedTaskInstance]:
    """Clear the chosen task instances (all runs / all tasks when not given).

    With `dry_run` nothing is written: the result is what would be cleared.
    """

    async def body(tx: Transaction) -> tuple[list[ClearedTaskInstance], set[int]]:
        if await queries.dag_is_paused(tx, dag_id, lock=True) is None:
            raise DagNotFound(dag_id)
        runs = await queries.lock_runs(tx, dag_id, run_ids)
        data = await scheduling.version_data(tx, {r.version_id for r in runs if r.version_id})
        specs = {v: DagSpec.from_dict(d) for v, d in data.items()}
        by_run = {r.run_id: r for r in runs}
        cleared: list[ClearedTaskInstance] = []
        touched: set[int] = set()
        for ti in await queries.task_instances(tx, dag_id, by_run):
            run = by_run[ti.run_id]
            spec = specs.get(run.version_id or "")
            chosen = _chosen(spec, task_ids, include_downstream, include_upstream)
            if chosen is not None and ti.task_id not in chosen:
                continue
            if only_failed and ti.state not in _FAILED:
                continue
            cleared.append(ClearedTaskInstance(ti.run_id, ti.task_id, ti.map_index, ti.state))
            touched.add(run.id)
            if dry_run:
                continue
            retries = 0
            if spec is not None and ti.task_id in spec.tasks:
                retries = spec.tasks[ti.task_id].retries
            await queries.update_task_instance(
                tx,
                ti.id,
                {
                    "state": cleared_state(ti.state),
                    "max_tries": ti.try_number + retries,
                    "updated_at": now,
                },
            )
        if not dry_run:
            for run in runs:
                if run.id in touched and run.state in ("success", "failed"):
                    check_dag_run_transition(
                        DagRunState(run.state), DagRunState.QUEUED, actor=Actor.USER
                    )
                    await queries.bump_clear_number(tx, run.id, queries.requeued(now))
        return cleared, touched

    cleared, touched = await db.run(body, write=not dry_run)
    if touched and not dry_run:
        wake(touched)
    return cleared


def _chosen(
    spec: DagSpec | None,
    task_ids: Collection[str] | None,
    downstream: bool,
    upstream: bool,
) -> set[str] | None:
    if task_ids is None:
        return None
    if spec is None:
        return set(task_ids)
    return widen(spec, task_ids, downstream=downstream, upstream=upstream)
