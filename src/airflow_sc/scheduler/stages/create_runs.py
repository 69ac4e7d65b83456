"""create_runs: due DAGs get their next scheduled dag_run (QUEUED), within max_active_runs.

A DAG is due when `dag.next_dagrun_create_after <= now`. Like Airflow 3, no run is created
while the DAG already has `max_active_runs` queued or running runs; the DAG stays due and
the stage looks again when a run finishes. With catchup the timetable hands out every
missed interval, one after another, as long as the limit allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyio.abc import TaskStatus

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.scheduler.deps import StageDeps
from airflow_sc.scheduler.stages._loop import run_stage
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.sdk.timetables import DataInterval
from airflow_sc.serialization.schedule import next_dagrun_info
from airflow_sc.serialization.spec import DagSpec

__all__ = ["create_due_runs", "scheduled_run_id", "serve_create_runs"]

log = logging.getLogger(__name__)


def scheduled_run_id(logical_date: datetime) -> str:
    """Airflow's run id of a timetable-created run."""
    return f"scheduled__{logical_date.isoformat()}"


@dataclass(frozen=True, slots=True)
class _Next:
    logical_date: datetime | None
    start: datetime | None
    end: datetime | None
    create_after: datetime | None


async def serve_create_runs(
    deps: StageDeps, wakeups: StageWakeups, *, task_status: TaskStatus[None]
) -> None:
    async def one_pass(woken: bool) -> float | None:
        created = await create_due_runs(deps)
        if created:
            wakeups.start_runs.set()
            deps.progressed(None)
        return None

    await run_stage(
        wakeups.create_runs,
        one_pass,
        sweep_interval=deps.deps.sweep_interval,
        passes=wakeups.passes,
        stop=deps.stopping,
        task_status=task_status,
    )


async def create_due_runs(deps: StageDeps) -> int:
    """One pass: create the due runs in one transaction; returns how many were created."""
    now = deps.now()

    async def body(tx: Transaction) -> int:
        due = await scheduling.due_dags(tx, now=now, limit=deps.deps.batch_limit)
        if not due:
            return 0
        dag_ids = [d.dag_id for d in due]
        active = await scheduling.unfinished_run_counts(tx, dag_ids)
        versions = await deps.versions.latest(tx, dag_ids)
        rows: list[dict[str, Any]] = []
        for row in due:
            if row.dag_id not in versions:
                continue
            version_id, spec = versions[row.dag_id]
            limit = row.max_active_runs if row.max_active_runs is not None else spec.max_active_runs
            current = _Next(
                row.next_dagrun, row.data_interval_start, row.data_interval_end, row.create_after
            )
            new_rows, after = await _runs_for_dag(
                tx, deps, spec, version_id, current, room=limit - active.get(row.dag_id, 0), now=now
            )
            rows.extend(new_rows)
            if after != current:
                await scheduling.set_next_dagrun(
                    tx,
                    row.dag_id,
                    next_dagrun=after.logical_date,
                    data_interval_start=after.start,
                    data_interval_end=after.end,
                    create_after=after.create_after,
                )
        await scheduling.insert_runs(tx, rows)
        return len(rows)

    created = await deps.db.run(body)
    if created:
        log.debug("created %d scheduled dag runs", created)
    return created


async def _runs_for_dag(
    tx: Transaction,
    deps: StageDeps,
    spec: DagSpec,
    version_id: str,
    current: _Next,
    *,
    room: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], _Next]:
    """The runs to create for one DAG, and its next-run columns afterwards."""
    rows: list[dict[str, Any]] = []
    while room > 0 and current.create_after is not None and current.create_after <= now:
        if current.logical_date is None or current.start is None or current.end is None:
            break
        exists = await scheduling.existing_logical_dates(tx, spec.dag_id, [current.logical_date])
        if not exists:
            rows.append(_run_row(deps, spec.dag_id, version_id, current, now))
            room -= 1
        info = next_dagrun_info(
            spec, last_automated=DataInterval(current.start, current.end), now=now
        )
        current = (
            _Next(None, None, None, None)
            if info is None
            else _Next(
                info.logical_date, info.data_interval.start, info.data_interval.end, info.run_after
            )
        )
    return rows, current


def _run_row(
    deps: StageDeps, dag_id: str, version_id: str, nxt: _Next, now: datetime
) -> dict[str, Any]:
    assert nxt.logical_date is not None
    assert nxt.create_after is not None
    return {
        "dag_id": dag_id,
        "run_id": scheduled_run_id(nxt.logical_date),
        "state": "queued",
        "run_type": "scheduled",
        "triggered_by": "timetable",
        "logical_date": nxt.logical_date,
        "data_interval_start": nxt.start,
        "data_interval_end": nxt.end,
        "run_after": nxt.create_after,
        "queued_at": now,
        "creating_job_id": deps.job_id,
        "created_dag_version_id": version_id,
        "conf": {},
        "updated_at": now,
    }
