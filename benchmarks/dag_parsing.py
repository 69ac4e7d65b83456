"""DAG processor throughput: initial parse of N generated DAG files, and save-to-stored latency.

    python benchmarks/dag_parsing.py [--files 200] [--tasks 20] [--repeat 3] [--postgres-url URL]

For each database (SQLite file; PostgreSQL when reachable) and backend it generates N DAG
files of T tasks, runs the real `serve_dag_processor` (forked parsing children, one
transaction per file), and measures:

- initial full parse: files parsed and stored per second (from start to ready);
- re-parse latency: from rewriting one file to its new version being stored
  (watchfiles event -> fork -> parse -> serialize -> write), median of `--changes` edits.

Prints a table of medians and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio

from airflow_sc.config import load_settings
from airflow_sc.dag_processing.processor import serve_dag_processor
from airflow_sc.db.engine import open_database
from airflow_sc.db.schema import migrate
from airflow_sc.testing import open_service_group
from airflow_sc.testing.postgres import throwaway_database, unreachable_reason

DAG_TEMPLATE = """
from datetime import datetime
from airflow_sc.sdk import DAG, PythonOperator

def work():
    return None

with DAG("bench_{n}", start_date=datetime(2026, 1, 1), schedule=None, tags=["bench"]):
    tasks = [PythonOperator(task_id=f"t{{i}}", python_callable=work) for i in range({tasks})]
    for up, down in zip(tasks, tasks[1:]):
        up >> down
    # revision {revision}
"""


def write_files(folder: Path, files: int, tasks: int, revision: int = 0) -> list[Path]:
    paths = []
    for n in range(files):
        path = folder / f"bench_{n}.py"
        path.write_text(DAG_TEMPLATE.format(n=n, tasks=tasks, revision=revision))
        paths.append(path)
    return paths


async def one_round(url: str, files: int, tasks: int, changes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        folder = home / "dags"
        folder.mkdir()
        paths = write_files(folder, files, tasks)
        settings = load_settings(
            {"AIRFLOW_SC_HOME": str(home), "AIRFLOW_SC__CORE__DAGS_FOLDER": str(folder)},
            cwd=home,
        )
        latencies: list[float] = []
        stored = [anyio.Event()]
        async with open_database(url) as db, open_service_group() as tg:
            started = time.perf_counter()
            stats = await tg.start(
                lambda task_status: serve_dag_processor(
                    settings,
                    db,
                    on_stored=lambda: stored[-1].set(),
                    shutdown_trigger=anyio.sleep_forever,
                    task_status=task_status,
                )
            )
            initial = time.perf_counter() - started
            if stats.files != files or stats.errors:
                raise RuntimeError(f"unexpected parse result: {stats}")
            for revision in range(1, changes + 1):
                stored.append(anyio.Event())
                saved = time.perf_counter()
                paths[revision % files].write_text(
                    DAG_TEMPLATE.format(n=revision % files, tasks=tasks, revision=revision)
                )
                with anyio.fail_after(30):
                    await stored[-1].wait()
                latencies.append(time.perf_counter() - saved)
        return {
            "initial_seconds": initial,
            "files_per_second": files / initial,
            "reparse_latency_p50_ms": statistics.median(latencies) * 1000,
            "reparse_latency_max_ms": max(latencies) * 1000,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--backends", default="asyncio,trio")
    args = parser.parse_args()
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        databases = [("sqlite", None)]
        if unreachable_reason() is None:
            databases.append(("postgres", None))
        for database, _ in databases:
            for backend in args.backends.split(","):
                runs = []
                for attempt in range(args.repeat):
                    if database == "sqlite":
                        url = f"sqlite:///{tmp}/{backend}-{attempt}.db"
                        anyio.run(migrate, url)
                        runs.append(
                            anyio.run(
                                one_round,
                                url,
                                args.files,
                                args.tasks,
                                args.changes,
                                backend=backend,
                            )
                        )
                    else:
                        with throwaway_database("airflow_sc_bench") as url:
                            anyio.run(migrate, url)
                            runs.append(
                                anyio.run(
                                    one_round,
                                    url,
                                    args.files,
                                    args.tasks,
                                    args.changes,
                                    backend=backend,
                                )
                            )
                cell = {
                    "database": database,
                    "backend": backend,
                    "files": args.files,
                    "tasks_per_dag": args.tasks,
                    "runs": runs,
                    **{k: statistics.median(r[k] for r in runs) for k in runs[0]},
                }
                cells.append(cell)
    print(
        f"{'database':9} {'backend':8} {'files/s':>8} {'initial s':>10} "
        f"{'re-parse p50 ms':>16} {'max ms':>8}"
    )
    for c in cells:
        print(
            f"{c['database']:9} {c['backend']:8} {c['files_per_second']:8.1f} "
            f"{c['initial_seconds']:10.2f} {c['reparse_latency_p50_ms']:16.1f} "
            f"{c['reparse_latency_max_ms']:8.1f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"dag_parsing-{stamp}.json"
    path.write_text(json.dumps({"python": sys.version, "cells": cells}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
