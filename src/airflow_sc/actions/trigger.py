"""Trigger a manual DAG run, with its conf validated against the DAG's params."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_sc.actions.errors import (
    DagIsPaused,
    DagNotFound,
    DagRunExists,
    InvalidConf,
    InvalidRunId,
)
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import operator_actions as queries
from airflow_sc.db.queries import scheduling
from airflow_sc.domain.json_values import RENDER_DEPTH_LIMIT, document_problem
from airflow_sc.domain.run_ids import DEFAULT_ALLOWED_RUN_ID_PATTERN, run_id_problem
from airflow_sc.serialization.spec import DagSpec


@dataclass(frozen=True, slots=True)
class TriggeredRun:
    id: int
    dag_id: str
    run_id: str
    logical_date: datetime | None
    run_after: datetime
    conf: Mapping[str, Any]


def manual_run_id(when: datetime) -> str:
    """Airflow's run id of a manual run."""
    return f"manual__{when.isoformat()}"


async def trigger_dag_run(
    db: Database,
    dag_id: str,
    *,
    now: datetime,
    conf: Mapping[str, Any] | None = None,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
    data_interval: tuple[datetime, datetime] | None = None,
    run_id: str | None = None,
    note: str | None = None,
    triggered_by: str = "rest_api",
    triggering_user_name: str | None = None,
    allowed_run_id_pattern: str = DEFAULT_ALLOWED_RUN_ID_PATTERN,
    run_type: str = "manual",
    refuse_paused: bool = False,
    wake: Wake = no_wake,
) -> TriggeredRun:
    """Create a QUEUED manual run of the DAG's newest version and wake the scheduler.

    As in Airflow 3: `logical_date` is optional (without one the run has none, and no data
    interval); `run_after` (the earliest time the run may start) defaults to `now`, and
    the run id is `manual__<run_after>` unless `run_id` is given. A run with a logical
    date covers `data_interval` if given, else the interval its timetable infers.
    `conf` must satisfy the DAG's params (`ParamValidationError` otherwise); it is stored
    as given. Paused DAGs accept the run; it starts when the DAG is unpaused (with
    `refuse_paused`, `DagIsPaused` is raised instead). `run_type` is ``manual``, or
    ``operator_triggered`` for a run a task started (``TriggerDagRunOperator``).

    Checked before anything is written: the run id follows Airflow's rule
    (`airflow_sc.domain.run_ids`, `InvalidRunId` otherwise) and `conf` can be stored and
    shown again (`airflow_sc.domain.json_values`, `InvalidConf` otherwise).
    """
    earliest = run_after or now
    chosen_run_id = run_id or manual_run_id(earliest)
    if (problem := run_id_problem(chosen_run_id, allowed_run_id_pattern)) is not None:
        raise InvalidRunId(problem)
    if problem := document_problem(conf or {}, max_depth=RENDER_DEPTH_LIMIT, where="conf"):
        raise InvalidConf(problem)

    async def body(tx: Transaction) -> TriggeredRun:
        paused = await queries.dag_is_paused(tx, dag_id, lock=True)
        if paused is None:
            raise DagNotFound(dag_id)
        if paused and refuse_paused:
            raise DagIsPaused(dag_id)
        version_ids = await scheduling.latest_version_ids(tx, [dag_id])
        if dag_id not in version_ids:
            raise DagNotFound(dag_id)
        data = (await scheduling.version_data(tx, [version_ids[dag_id]]))[version_ids[dag_id]]
        spec = DagSpec.from_dict(data)
        spec.params_dict().resolve(dict(conf or {}))
        if await queries.run_exists(tx, dag_id, run_id=chosen_run_id, logical_date=logical_date):
            taken = await queries.run_exists(tx, dag_id, run_id=chosen_run_id, logical_date=None)
            raise DagRunExists(dag_id, chosen_run_id, run_id_taken=taken)
        interval: tuple[datetime, datetime] | None = None
        if logical_date is not None:
            if data_interval is not None:
                interval = data_interval
            else:
                inferred = spec.timetable.infer_manual_data_interval(run_after=logical_date)
                interval = (inferred.start, inferred.end)
        pk = await queries.insert_run(
            tx,
            {
                "dag_id": dag_id,
                "run_id": chosen_run_id,
                "state": "queued",
                "run_type": run_type,
                "triggered_by": triggered_by,
                "triggering_user_name": triggering_user_name,
                "logical_date": logical_date,
                "data_interval_start": None if interval is None else interval[0],
                "data_interval_end": None if interval is None else interval[1],
                "run_after": earliest,
                "queued_at": now,
                "conf": dict(conf or {}),
                "created_dag_version_id": version_ids[dag_id],
                "updated_at": now,
                "note": note,
            },
        )
        return TriggeredRun(pk, dag_id, chosen_run_id, logical_date, earliest, dict(conf or {}))

    triggered = await db.run(body)
    wake([triggered.id])
    return triggered
