"""What running one try costs: warm fork vs a fresh interpreter, and the execution API's HTTP.

    python benchmarks/executor_overhead.py [--tasks N] [--backend asyncio|trio]
        [--channel pipe|http] [--repeat N] [--run-as USER]

``--run-as USER`` (as root): every try switches to the OS user USER before running, as
``core.root_impersonation`` makes it under `airflow-sc run` (the benchmark's folder is a
0700 temporary directory, so each try also covers it in a mount namespace of its own):
the figures then include the switch.

Measures, on a throwaway SQLite database and the execution API on 127.0.0.1:
1. spawn cost alone: `fork()` of a warm worker vs a fresh `python` that imports the task
   runner (what a per-task interpreter would pay before running any user code);
2. local executor, one try at a time: submit -> SUCCESS event latency (p50/p95) for a
   trivial task (start, load DAG file, run, finish through the API, report);
3. local executor, parallelism 8: tries per second for N trivial tasks, p50/p95 from the
   batch's submit to each try's SUCCESS event, and CPU-seconds per try of the whole
   process tree (this process, the workers, the forked children; psutil, so the workers'
   start-up is left out: it is paid once, not per try); the median of `--repeat` runs;
4. the execution API per call: a heartbeat over HTTP (httpx) vs the handler called directly.

Prints JSON and writes it to `benchmarks/results/executor_overhead-<timestamp>.json`.

Measured on the 2-core machine (2026-11-24, SQLite, asyncio, parallelism 8, 200 trivial
tries, median of 3 runs; the machine was shared, load average 1-4 on 2 cores):

| figure | before (HTTP, per-try import) | http | pipe (default) |
|---|---|---|---|
| one try alone, submit -> SUCCESS p50 / p95 | 22 / 28 ms | 18 / 26 ms | 14 / 21 ms (trio 10 / 12) |
| tries per second | 66 | 81 | 146 (trio 116) |
| CPU per try, whole tree | 25.4 ms | 19.8 ms | 11.6 ms (trio 12.0) |
| - of which the executor process (API server included) | 5.4 ms | 4.9 ms | 2.6 ms |
| - the workers (fork, relay, reaping) | 2.6 ms | 2.1 ms | 2.7 ms |
| - the forked children | 17.2 ms | 12.9 ms | 6.3 ms |

"before" is the code before the local channel and the workers' DAG import cache; "http"
has the cache (and Jinja's extension module imported by the worker) but still sends the
execution API calls over HTTP. What is left is mostly the kernel's: a fork plus exit of the
warm worker (about 40 MB resident) costs 2.5-3.5 ms of CPU here (parent and child) before
the try does anything, and the child's copy-on-write faults (~1400 per try) about as much.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
from sqlalchemy import insert

from airflow_sc.api.execution import create_execution_app
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag, dag_run, task_instance
from airflow_sc.domain import TaskInstanceKey, TaskInstanceState
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.protocol import Start
from airflow_sc.execution.service import ExecutionService
from airflow_sc.execution.tokens import ExecutionTokens, generate_secret
from airflow_sc.executors.base import TaskEvent, Workload
from airflow_sc.executors.local import LocalChannel, LocalExecutor
from airflow_sc.impersonation import Impersonation
from airflow_sc.runtime import serve_http
from airflow_sc.testing.databases import copy_sqlite_template, migrate_sqlite_template

RESULTS = Path(__file__).parent / "results"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAG_FILE = """
import datetime
from airflow_sc.sdk import DAG, task

with DAG("bench", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:
    @task
    def noop() -> None:
        return None

    noop()
"""


def spawn_costs(samples: int) -> dict[str, float]:
    """Median ms of a fork (child exits at once) and of a fresh interpreter importing the runner."""
    import airflow_sc.task_runner.supervisor  # noqa: F401 - warm, like a worker

    forks = []
    for _ in range(samples):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        forks.append(time.perf_counter() - started)
    fresh = []
    argv = [sys.executable, "-c", "import airflow_sc.task_runner.supervisor"]
    for _ in range(max(3, samples // 10)):
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        fresh.append(time.perf_counter() - started)
    bare = []
    for _ in range(max(3, samples // 10)):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    return {
        "fork_ms": statistics.median(forks) * 1e3,
        "fresh_interpreter_with_runner_ms": statistics.median(fresh) * 1e3,
        "fresh_interpreter_bare_ms": statistics.median(bare) * 1e3,
    }


async def add_tis(db: Database, count: int, run_id: str) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(dag_run).values(
                dag_id="bench",
                run_id=run_id,
                state="running",
                run_type="manual",
                run_after=NOW,
                conf={},
            )
        )
        await tx.execute(
            insert(task_instance),
            [
                {
                    "id": ti_id,
                    "dag_id": "bench",
                    "run_id": run_id,
                    "task_id": "noop",
                    "map_index": i,
                    "state": "queued",
                    "try_number": 1,
                    "pool": "default_pool",
                }
                for i, ti_id in enumerate(ids)
            ],
        )

    await db.run(body)
    return ids


def workloads(ids: list[str], run_id: str, fileloc: str) -> list[Workload]:
    return [
        Workload(ti_id, TaskInstanceKey("bench", run_id, "noop", i, 1), fileloc, "h")
        for i, ti_id in enumerate(ids)
    ]


def tree_cpu(pids: tuple[int, ...]) -> dict[str, float]:
    """CPU-seconds of this process, of the workers `pids`, and of the children they reaped."""
    own = psutil.Process().cpu_times()
    out = {"executor": own.user + own.system, "workers": 0.0, "children": 0.0}
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        out["workers"] += times.user + times.system
        out["children"] += times.children_user + times.children_system
    return out


async def bench(
    tasks: int, workdir: Path, channel: LocalChannel, repeat: int, run_as: str = ""
) -> dict[str, Any]:
    url = copy_sqlite_template(migrate_sqlite_template(workdir), workdir)
    fileloc = workdir / "dags" / "bench_dag.py"
    fileloc.parent.mkdir()
    fileloc.write_text(DAG_FILE + "\n# airflow\n")
    out: dict[str, Any] = {}
    async with open_database(url) as db:

        async def body(tx: Transaction) -> None:
            await tx.execute(insert(dag).values(dag_id="bench", fileloc=str(fileloc)))

        await db.run(body)
        tokens = ExecutionTokens(generate_secret())
        service = ExecutionService(db)
        dispatcher = ExecutionDispatcher(service, tokens)
        app = create_execution_app(dispatcher)
        async with anyio.create_task_group() as tg:
            endpoint = await tg.start(_serve, app)
            impersonation = Impersonation(root_user=run_as, folders=(str(fileloc.parent),))
            make = _factory(endpoint.url, dispatcher, channel, workdir / "logs", impersonation)
            out["latency"] = await _latency(db, make, fileloc, 30)
            runs = [await _throughput(db, make, fileloc, tasks, i) for i in range(repeat)]
            out["throughput_runs"] = runs
            out["throughput"] = {
                key: statistics.median(run[key] for run in runs) for key in runs[0]
            }
            out["api"] = await _api_cost(db, endpoint.url, tokens, service)
            tg.cancel_scope.cancel()
    return out


async def _serve(app: Any, *, task_status: Any) -> None:
    await serve_http(
        app,
        host="127.0.0.1",
        port=0,
        drain_timeout=1,
        shutdown_trigger=anyio.sleep_forever,
        task_status=task_status,
    )


Factory = Any  # (parallelism) -> LocalExecutor


def _factory(
    url: str,
    dispatcher: ExecutionDispatcher,
    channel: LocalChannel,
    logs: Path,
    impersonation: Impersonation,
) -> Factory:
    def make(parallelism: int) -> LocalExecutor:
        return LocalExecutor(
            parallelism=parallelism,
            channel=channel,
            api_url=url,
            service=dispatcher.service,
            tokens=dispatcher.tokens,
            base_log_folder=logs,
            heartbeat_interval=30,
            impersonation=impersonation,
        )

    return make


async def _latency(db: Database, make: Factory, fileloc: Path, count: int) -> dict[str, float]:
    ids = await add_tis(db, count, "latency")
    send, receive = anyio.create_memory_object_stream[TaskEvent](100)
    executor = make(1)
    samples = []
    with receive:
        async with anyio.create_task_group() as tg:
            await tg.start(executor.serve, send)
            for item in workloads(ids, "latency", str(fileloc)):
                started = time.perf_counter()
                await executor.submit([item])
                async for event in receive:
                    assert event.recorded is TaskInstanceState.SUCCESS, event
                    break
                samples.append(time.perf_counter() - started)
            tg.cancel_scope.cancel()
    samples.sort()
    return {
        "p50_ms": statistics.median(samples) * 1e3,
        "p95_ms": samples[int(len(samples) * 0.95) - 1] * 1e3,
    }


async def _throughput(
    db: Database, make: Factory, fileloc: Path, count: int, index: int
) -> dict[str, float]:
    run_id = f"throughput-{index}"
    ids = await add_tis(db, count, run_id)
    send, receive = anyio.create_memory_object_stream[TaskEvent](count * 2)
    executor = make(8)
    latencies = []
    with receive:
        async with anyio.create_task_group() as tg:
            await tg.start(executor.serve, send)
            workers = executor.statistics().workers
            cpu_before = tree_cpu(workers)
            started = time.perf_counter()
            await executor.submit(workloads(ids, run_id, str(fileloc)))
            async for event in receive:
                assert event.recorded is TaskInstanceState.SUCCESS, event
                latencies.append(time.perf_counter() - started)
                if len(latencies) == count:
                    break
            elapsed = time.perf_counter() - started
            # Every child was reaped by its worker before the worker reported it.
            cpu_after = tree_cpu(workers)
            tg.cancel_scope.cancel()
    latencies.sort()
    cpu = {part: cpu_after[part] - cpu_before[part] for part in cpu_before}
    return {
        "tasks": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "cpu_ms_per_try": sum(cpu.values()) / count * 1e3,
        **{f"cpu_ms_per_try_{part}": seconds / count * 1e3 for part, seconds in cpu.items()},
        "submit_to_success_p50_ms": statistics.median(latencies) * 1e3,
        "submit_to_success_p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1e3,
    }


async def _api_cost(
    db: Database, url: str, tokens: ExecutionTokens, service: ExecutionService
) -> dict[str, float]:
    (ti_id,) = await add_tis(db, 1, "api")
    await service.start(ti_id, Start("bench", os.getpid()))
    calls = 300
    headers = {"authorization": f"Bearer {tokens.issue(ti_id)}"}
    async with httpx.AsyncClient(base_url=url) as http:
        started = time.perf_counter()
        for _ in range(calls):
            (
                await http.put(f"/task-instances/{ti_id}/heartbeat", headers=headers)
            ).raise_for_status()
        over_http = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        await service.heartbeat(ti_id)
    direct = (time.perf_counter() - started) / calls
    return {"heartbeat_http_ms": over_http * 1e3, "heartbeat_direct_ms": direct * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--channel", choices=("pipe", "http"), default="pipe")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-spawn", action="store_true", help="skip the spawn-cost part")
    parser.add_argument(
        "--run-as", default="", metavar="USER", help="as root: run every try as this OS user"
    )
    args = parser.parse_args()
    result: dict[str, Any] = {
        "backend": args.backend,
        "database": "sqlite",
        "channel": args.channel,
        "run_as": args.run_as or None,
        "load_average": os.getloadavg(),
    }
    if not args.no_spawn:
        result["spawn"] = spawn_costs(100)
    with tempfile.TemporaryDirectory() as tmp:
        result.update(
            anyio.run(
                bench,
                args.tasks,
                Path(tmp),
                args.channel,
                args.repeat,
                args.run_as,
                backend=args.backend,
            )
        )
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"executor_overhead-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
