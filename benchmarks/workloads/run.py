"""One run of one workload: fresh home and database, cold server, trigger, measure, stop."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

from .database import Metadata, open_metadata
from .figures import timing_figures
from .process_tree import ProcessTreeMeter
from .server import Server, log_in, open_server, trigger, unpause_all, wait_parsed
from .shapes import Workload, write_dag_files

__all__ = ["RunOptions", "run_workload"]


@dataclass(frozen=True)
class RunOptions:
    parallelism: int = 8
    #: Seconds for the server to start and parse every DAG.
    start_timeout: float = 180.0
    #: Seconds for every triggered run to finish.
    run_timeout: float = 600.0
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Keep a copy of the server's log after the run.
    keep_log: bool = False


def run_workload(
    workload: Workload, database: str, backend: str, options: RunOptions
) -> dict[str, Any]:
    """Run `workload` once and return its figures (one JSON document)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{workload.name}-") as tmp:
        home = Path(tmp)
        dag_ids = write_dag_files(workload, home / "dags")
        load_before = os.getloadavg()
        with (
            open_metadata(database, home) as metadata,
            open_server(
                home=home,
                database_url=metadata.url,
                backend=backend,
                parallelism=options.parallelism,
                extra_env=options.extra_env,
            ) as server,
        ):
            try:
                measured = anyio.run(_drive, server, metadata, dag_ids, options)
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
            server.stop()
            timings = metadata.task_timings()
            commits_after = metadata.commits()
        if options.keep_log:
            kept = Path(tempfile.mkdtemp(prefix=f"bench-{workload.name}-kept-"))
            (kept / "run.log").write_bytes((home / "run.log").read_bytes())
            measured["kept_log"] = str(kept / "run.log")
    first_trigger: datetime = measured.pop("first_trigger")
    figures = timing_figures(timings, first_trigger, chain=workload.is_chain)
    # task_instance.executor holds only an executor the task names; the pid that ran each
    # try tells where it ran: the server itself (in-process) or a worker process.
    ran_in = {"inprocess" if t.pid == server.process.pid else "local" for t in timings}
    cpu = measured["cpu_s"]
    commits_before = measured["commits_before"]
    commits = (
        None if commits_before is None or commits_after is None else commits_after - commits_before
    )
    return {
        "workload": workload.name,
        "database": database,
        "backend": backend,
        "dags": workload.dags,
        "tasks_per_dag": workload.tasks_per_dag,
        "parallelism": options.parallelism,
        "executor": ",".join(sorted(ran_in)),
        **figures,
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_ti": round(cpu / figures["task_instances"] * 1000, 3)
        if figures["task_instances"]
        else None,
        "cpu_s_by_role": measured["cpu_s_by_role"],
        # PostgreSQL only: transactions committed from the first trigger to the server's exit.
        "commits_per_ti": round(commits / figures["task_instances"], 2)
        if commits is not None and figures["task_instances"]
        else None,
        "lifetime_cpu_s": round(server.lifetime_cpu_s or 0.0, 3),
        "peak_rss_mb": measured["peak_rss_mb"],
        "pss_at_end_mb": measured["pss_at_end_mb"],
        "peak_processes": measured["peak_processes"],
        "rss_samples": measured["rss_samples"],
        "triggers_s": measured["triggers_s"],
        "harness_wait_s": measured["harness_wait_s"],
        "first_trigger": first_trigger.isoformat(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "notes": server.notes,
        **({"kept_log": measured["kept_log"]} if "kept_log" in measured else {}),
    }


async def _drive(
    server: Server, metadata: Metadata, dag_ids: list[str], options: RunOptions
) -> dict[str, Any]:
    with ProcessTreeMeter(server.process.pid) as meter:
        return await _measure(server, metadata, meter, dag_ids, options)


async def _measure(
    server: Server,
    metadata: Metadata,
    meter: ProcessTreeMeter,
    dag_ids: list[str],
    options: RunOptions,
) -> dict[str, Any]:
    api_url = await server.wait_ready(options.start_timeout)
    limits = httpx.Limits(max_connections=len(dag_ids), max_keepalive_connections=len(dag_ids))
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60) as http:
        await log_in(http, server.admin_password())
        await wait_parsed(http, len(dag_ids), options.start_timeout)
        await unpause_all(http, len(dag_ids))
        # Open the connections before the clock starts (TCP set-up is not the server's cost).
        async with anyio.create_task_group() as tg:
            for _ in range(min(len(dag_ids), 50)):
                tg.start_soon(http.get, "/api/v2/version")
        commits_before = await anyio.to_thread.run_sync(metadata.commits)
        cpu_before = meter.cpu_seconds()
        first_trigger = datetime.now(UTC)
        async with anyio.create_task_group() as tg:
            for dag_id in dag_ids:
                tg.start_soon(trigger, http, dag_id)
        began_waiting = time.monotonic()
        triggers_s = (datetime.now(UTC) - first_trigger).total_seconds()
        # Another process writes the state: polling the database is the only signal.
        with anyio.fail_after(options.run_timeout):
            while await anyio.to_thread.run_sync(metadata.finished_runs) < len(dag_ids):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        cpu_after = meter.cpu_seconds()
        pss = meter.pss_bytes()
    return {
        "commits_before": commits_before,
        "first_trigger": first_trigger,
        "cpu_s": cpu_after.seconds - cpu_before.seconds,
        "cpu_s_by_role": {r: round(v, 3) for r, v in cpu_after.minus(cpu_before).items()},
        "peak_rss_mb": round(meter.peak_rss / 2**20, 1),
        "pss_at_end_mb": round(pss / 2**20, 1),
        "peak_processes": meter.peak_processes,
        "rss_samples": meter.samples,
        "harness_wait_s": round(time.monotonic() - began_waiting, 3),
        "triggers_s": round(triggers_s, 3),
    }
