"""Scheduler-only throughput and task lag, with the in-memory executor (zero execution time).

- W1: 50 DAGs x 20 tasks (4 layers of 5, each layer fully connected to the next), all
  triggered at once: task instances from trigger to success per second.
- Lag: one run of a 40-task chain: next task's start_date minus previous task's end_date,
  read back from the database (p50 / p95).

Run: `.venv/bin/python benchmarks/scheduler_throughput.py [--databases sqlite,postgres]
[--backends asyncio,trio]`. Prints a table and writes `benchmarks/results/
scheduler_throughput.json`. PostgreSQL needs a server (AIRFLOW_SC_TEST_POSTGRES_URL or
postgresql://postgres@127.0.0.1:5432/postgres); a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import select

from airflow_sc.actions import trigger_dag_run
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag_run, task_instance
from airflow_sc.db.queries import dag_files
from airflow_sc.db.schema import migrate_sync
from airflow_sc.execution.service import ExecutionService
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.scheduler.deps import SchedulerDeps
from airflow_sc.scheduler.service import SchedulerHandle, serve_scheduler
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.serialization.encode import encode_dag
from airflow_sc.serialization.spec import DagSpec
from airflow_sc.testing import InMemoryExecutor, postgres

RESULTS = Path(__file__).parent / "results" / "scheduler_throughput.json"
START = datetime(2026, 1, 1, tzinfo=UTC)


def noop() -> None:
    return None


def layered_dag(dag_id: str, layers: int = 4, width: int = 5) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, max_active_tasks=64) as dag:
        previous: list[PythonOperator] = []
        for layer in range(layers):
            current = [
                PythonOperator(task_id=f"l{layer}_t{i}", python_callable=noop) for i in range(width)
            ]
            for up in previous:
                up >> current
            previous = current
    return dag


def chain_dag(dag_id: str, length: int = 40) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        previous = None
        for i in range(length):
            task = PythonOperator(task_id=f"t{i:02d}", python_callable=noop)
            if previous is not None:
                previous >> task
            previous = task
    return dag


async def store(db: Database, dag: DAG) -> None:
    data = encode_dag(dag)
    spec = DagSpec.from_dict(data)
    record = dag_files.DagRecord(
        dag_id=spec.dag_id,
        data=data,
        dag_hash=spec.dag_hash,
        fileloc=f"/dags/{spec.dag_id}.py",
        relative_fileloc=None,
        owners="airflow",
        description=None,
        timetable_summary=None,
        timetable_description=None,
        max_active_tasks=spec.max_active_tasks,
        max_active_runs=spec.max_active_runs,
        has_task_concurrency_limits=False,
        tags=(),
        is_paused_upon_creation=False,
    )

    async def body(tx: Transaction) -> None:
        await dag_files.store_file(
            tx,
            fileloc=f"/dags/{spec.dag_id}.py",
            dags=[record],
            next_runs={},
            errors=[],
            paused_by_default=False,
            now=datetime.now(UTC),
        )

    await db.run(body)


async def count_finished(db: Database, dag_ids: list[str]) -> int:
    async def body(tx: Transaction) -> int:
        rows = await tx.execute(select(dag_run.c.state).where(dag_run.c.dag_id.in_(dag_ids)))
        return sum(r.state in ("success", "failed") for r in rows)

    return await db.run(body, write=False)


async def run_workload(db: Database, dags: list[DAG], handle: SchedulerHandle) -> tuple[float, int]:
    for dag in dags:
        await store(db, dag)
    started = time.perf_counter()
    for dag in dags:
        await trigger_dag_run(db, dag.dag_id, now=datetime.now(UTC), wake=handle.wake)

    async def all_done() -> bool:
        return await count_finished(db, [d.dag_id for d in dags]) >= len(dags)

    with anyio.fail_after(600):
        await handle.wait_until(all_done)
    return time.perf_counter() - started, sum(len(d.tasks) for d in dags)


async def chain_lags(db: Database, dag_id: str) -> list[float]:
    async def body(tx: Transaction) -> list[tuple[str, datetime, datetime]]:
        rows = await tx.execute(
            select(task_instance.c.task_id, task_instance.c.start_date, task_instance.c.end_date)
            .where(task_instance.c.dag_id == dag_id)
            .order_by(task_instance.c.task_id)
        )
        return [(r.task_id, r.start_date, r.end_date) for r in rows]

    rows = await db.run(body, write=False)
    return [(nxt[1] - prev[2]).total_seconds() * 1000 for prev, nxt in itertools.pairwise(rows)]


async def measure(url: str) -> dict[str, Any]:
    async with open_database(url, pool_size=8) as db:
        changes = ChangeFeed()
        service = ExecutionService(db, on_ti_finished=changes.tis_finished)
        executor = InMemoryExecutor(service=service)
        deps = SchedulerDeps(
            db=db,
            executors=[executor],
            parallelism=1024,
            heartbeat_interval=60.0,
            changes=changes,
        )
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            handle: SchedulerHandle = await tg.start(
                lambda task_status: serve_scheduler(
                    deps, shutdown_trigger=stop.wait, task_status=task_status
                )
            )
            elapsed, tis = await run_workload(
                db, [layered_dag(f"w1_{i:02d}") for i in range(50)], handle
            )
            chain_elapsed, _ = await run_workload(db, [chain_dag("chain40")], handle)
            lags = sorted(await chain_lags(db, "chain40"))
            stop.set()
    return {
        "w1_task_instances": tis,
        "w1_seconds": round(elapsed, 3),
        "w1_tis_per_second": round(tis / elapsed, 1),
        "chain40_seconds": round(chain_elapsed, 3),
        "lag_p50_ms": round(statistics.median(lags), 2),
        "lag_p95_ms": round(lags[int(len(lags) * 0.95) - 1], 2),
    }


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            migrate_sync(url)
            yield url
    else:
        reason = postgres.unreachable_reason()
        if reason is not None:
            raise SystemExit(f"PostgreSQL: {reason}")
        with postgres.throwaway_database() as url:
            migrate_sync(url)
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--backends", default="asyncio,trio")
    args = parser.parse_args()
    results = []
    for kind in args.databases.split(","):
        for backend in args.backends.split(","):
            with database(kind) as url:
                found = anyio.run(measure, url, backend=backend)
            results.append({"database": kind, "backend": backend, **found})
            print(
                f"{kind:9} {backend:8} W1 {found['w1_tis_per_second']:8.1f} TI/s "
                f"({found['w1_task_instances']} TIs in {found['w1_seconds']:.2f}s)  "
                f"chain lag p50 {found['lag_p50_ms']:6.2f} ms  p95 {found['lag_p95_ms']:6.2f} ms",
                flush=True,
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
