"""Storing real serialized DAGs the way the DAG processor does, for API tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import anyio
from sqlalchemy import insert

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, import_error
from airflow_sc.db.queries import dag_files
from airflow_sc.sdk import DAG, BashOperator, EmptyOperator, Param
from airflow_sc.serialization import DagSpec
from airflow_sc.serialization.encode import encode_dag


def example_dag(dag_id: str, fileloc: Path, *, tags: list[str], owner: str = "data") -> DAG:
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        tags=tags,
        description=f"{dag_id} description",
        params={"api_token": Param("s3cr3t-default", type="string"), "n": Param(3, type="integer")},
        default_args={"owner": owner},
    ) as made:
        extract = BashOperator(task_id="extract", bash_command="echo hi", retries=2)
        load = EmptyOperator(task_id="load", execution_timeout=timedelta(minutes=5))
        extract >> load
    made.fileloc = str(fileloc)
    return made


async def store_dags(
    db: Database, fileloc: Path, dags: list[DAG], *, now: datetime, paused: bool = False
) -> None:
    source = "# the DAG file's source\nfrom airflow_sc.sdk import DAG\n"
    await anyio.Path(fileloc).write_text(source)
    records = []
    for made in dags:
        data = encode_dag(made, dags_folder=str(fileloc.parent))
        spec = DagSpec.from_dict(data)
        records.append(
            dag_files.DagRecord(
                dag_id=spec.dag_id,
                data=data,
                dag_hash=spec.dag_hash,
                fileloc=spec.fileloc,
                relative_fileloc=spec.relative_fileloc,
                owners=", ".join(spec.owners),
                description=spec.description,
                timetable_summary=spec.timetable_summary,
                timetable_description=spec.timetable.description,
                max_active_tasks=spec.max_active_tasks,
                max_active_runs=spec.max_active_runs,
                has_task_concurrency_limits=False,
                tags=spec.tags,
                is_paused_upon_creation=paused,
            )
        )

    async def body(tx: Transaction) -> None:
        await dag_files.store_file(
            tx,
            fileloc=str(fileloc),
            dags=records,
            next_runs={},
            errors=[],
            paused_by_default=paused,
            now=now,
        )

    await db.run(body)


async def add_runs(
    db: Database, dag_id: str, states: list[str], *, now: datetime, started: bool = False
) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(dag_run),
            [
                {
                    "dag_id": dag_id,
                    "run_id": f"manual__{i}",
                    "state": state,
                    "run_type": "manual",
                    "run_after": now + timedelta(minutes=i),
                    "start_date": now + timedelta(minutes=i) if started else None,
                }
                for i, state in enumerate(states)
            ],
        )

    await db.run(body)


async def add_import_error(db: Database, filename: str, trace: str, *, now: datetime) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(import_error).values(timestamp=now, filename=filename, stacktrace=trace)
        )

    await db.run(body)
