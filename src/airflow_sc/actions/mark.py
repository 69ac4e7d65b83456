"""Mark task instances or whole DAG runs (Airflow's "Mark state" and "Set state to queued")."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from airflow_sc.actions._graph import widen
from airflow_sc.actions.errors import DagRunNotFound
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries
from airflow_sc.db.queries import scheduling
from airflow_sc.domain.states import DagRunState, TaskInstanceState
from airflow_sc.domain.transitions import Actor, check_dag_run_transition, check_ti_transition
from airflow_sc.serialization.spec import DagSpec

__all__ = [
    "MarkRunState",
    "MarkState",
    "MarkedTaskInstance",
    "mark_dag_run",
    "mark_task_instances",
]

#: States an operator may set a task instance to.
MarkState = Literal["success", "failed", "skipped"]
#: States an operator may set a DAG run to.
MarkRunState = Literal["success", "failed", "queued"]
_FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


@dataclass(frozen=True, slots=True)
class MarkedTaskInstance:
    task_id: str
    map_index: int
    #: The state the task instance had before it was marked.
    state: str | None


async def mark_task_instances(
    db: Database,
    dag_id: str,
    run_id: str,
    task_ids: Collection[str],
    state: MarkState,
    *,
    now: datetime,
    map_indexes: Collection[int] | None = None,
    include_downstream: bool = False,
    include_upstream: bool = False,
    dry_run: bool = False,
    wake: Wake = no_wake,
) -> list[MarkedTaskInstance]:
    """Set these task instances' state; returns those that changed (or would, `dry_run`).

    `map_indexes` narrows the named tasks to those map indexes; tasks added by
    `include_downstream` / `include_upstream` are marked at every map index (as Airflow).
    A task instance already in `state` is left alone. One that is still running keeps
    running, but what it reports is ignored. The scheduler then decides the downstream
    tasks and the run's state.
    """
    named = set(task_ids)
    wanted_indexes = None if map_indexes is None else set(map_indexes)

    async def body(tx: Transaction) -> tuple[list[MarkedTaskInstance], int]:
        runs = await queries.lock_runs(tx, dag_id, [run_id])
        if not runs:
            raise DagRunNotFound(dag_id, run_id)
        run = runs[0]
        chosen = set(named)
        if run.version_id is not None and (include_downstream or include_upstream):
            data = await scheduling.version_data(tx, [run.version_id])
            if run.version_id in data:
                spec = DagSpec.from_dict(data[run.version_id])
                chosen = widen(
                    spec, chosen, downstream=include_downstream, upstream=include_upstream
                )
        changed: list[MarkedTaskInstance] = []
        for ti in await queries.task_instances(tx, dag_id, [run_id]):
            if ti.task_id not in chosen or ti.state == state:
                continue
            narrowed = ti.task_id in named and wanted_indexes is not None
            if narrowed and ti.map_index not in (wanted_indexes or ()):
                continue
            _check_ti(ti.state, state)
            changed.append(MarkedTaskInstance(ti.task_id, ti.map_index, ti.state))
            if not dry_run:
                await queries.update_task_instance(tx, ti.id, _ended(state, ti.start_date, now))
        if changed and not dry_run and run.state in ("success", "failed"):
            # The run's outcome is decided again from its task instances.
            _check_run(run.state, "running")
            await queries.update_run(tx, run.id, {"state": "running", "end_date": None})
        return sorted(changed, key=lambda m: (m.task_id, m.map_index)), run.id

    changed, run_pk = await db.run(body, write=not dry_run)
    if changed and not dry_run:
        wake([run_pk])
    return changed


async def mark_dag_run(
    db: Database,
    dag_id: str,
    run_id: str,
    state: MarkRunState,
    *,
    now: datetime,
    wake: Wake = no_wake,
) -> None:
    """Finish a run as success or failed, or put it back in the queue.

    Success: every unfinished task instance becomes success. Failed: queued or running
    ones become failed, the ones not started yet skipped (Airflow's behaviour). Queued:
    the scheduler starts the run again; its task instances keep their states.
    """

    async def body(tx: Transaction) -> int:
        runs = await queries.lock_runs(tx, dag_id, [run_id])
        if not runs:
            raise DagRunNotFound(dag_id, run_id)
        run = runs[0]
        _check_run(run.state, state)
        if state == "queued":
            await queries.update_run(tx, run.id, queries.requeued(now))
            return run.id
        for ti in await queries.task_instances(tx, dag_id, [run_id]):
            if ti.state in _FINISHED:
                continue
            if state == "success":
                new = "success"
            else:
                new = "failed" if ti.state in ("queued", "running") else "skipped"
            _check_ti(ti.state, new)
            await queries.update_task_instance(tx, ti.id, _ended(new, ti.start_date, now))
        await queries.update_run(tx, run.id, {"state": state, "end_date": now, "updated_at": now})
        return run.id

    run_pk = await db.run(body)
    wake([run_pk])


def _check_ti(old: str | None, new: str) -> None:
    """An operator's move of a task instance, checked against the transition table."""
    before = None if old is None else TaskInstanceState(old)
    check_ti_transition(before, TaskInstanceState(new), actor=Actor.USER)


def _check_run(old: str, new: str) -> None:
    """An operator's move of a DAG run, checked against the transition table."""
    check_dag_run_transition(DagRunState(old), DagRunState(new), actor=Actor.USER)


def _ended(state: str, start_date: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "state": state,
        "start_date": start_date or now,
        "end_date": now,
        "updated_at": now,
    }
