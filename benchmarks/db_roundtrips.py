"""Round trips per second of `SELECT 1` through each database adapter, and client CPU per query.

    python benchmarks/db_roundtrips.py [--seconds N] [--postgres-url URL]

Cells: native asyncpg (asyncio), thread + psycopg (asyncio, trio), thread + SQLite (asyncio,
trio); 1 and 10 concurrent tasks; one transaction per query (`db.run`) or statements on one
held transaction per task. Creates and drops its own throwaway PostgreSQL database. Prints a
table and writes JSON to `benchmarks/results/db_roundtrips-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio
import sqlalchemy as sa

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database

Mode = Literal["run", "held"]
SELECT_ONE = sa.text("SELECT 1")
RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Cell:
    adapter: Literal["native", "thread"]
    database: Literal["postgres", "sqlite"]
    backend: Literal["asyncio", "trio"]
    tasks: int
    mode: Mode


@dataclass(frozen=True)
class Measurement:
    cell: Cell
    queries: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.queries / self.seconds

    @property
    def cpu_us_per_query(self) -> float:
        return self.cpu_seconds / self.queries * 1e6


def cells() -> Iterator[Cell]:
    for adapter, database, backend in (
        ("native", "postgres", "asyncio"),
        ("thread", "postgres", "asyncio"),
        ("thread", "postgres", "trio"),
        ("thread", "sqlite", "asyncio"),
        ("thread", "sqlite", "trio"),
    ):
        for tasks in (1, 10):
            for mode in ("run", "held"):
                yield Cell(adapter, database, backend, tasks, mode)  # type: ignore[arg-type]


async def _select_one(tx: Transaction) -> None:
    await tx.execute(SELECT_ONE)


async def _worker(db: Database, mode: Mode, stop_at: float, counts: list[int]) -> None:
    done = 0
    if mode == "run":
        while time.monotonic() < stop_at:
            await db.run(_select_one, write=False)
            done += 1
    else:
        async with db.transaction(write=False) as tx:
            while time.monotonic() < stop_at:
                await tx.execute(SELECT_ONE)
                done += 1
    counts.append(done)


async def measure(cell: Cell, url: str, seconds: float) -> Measurement:
    async with open_database(url, adapter=cell.adapter, pool_size=10) as db:
        # Warm up: open the pool's connections and the worker threads.
        async with anyio.create_task_group() as tg:
            for _ in range(cell.tasks):
                tg.start_soon(_worker, db, cell.mode, time.monotonic() + 0.2, [])
        counts: list[int] = []
        started, cpu_started = time.monotonic(), time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(cell.tasks):
                tg.start_soon(_worker, db, cell.mode, started + seconds, counts)
        elapsed = time.monotonic() - started
        cpu = time.process_time() - cpu_started
    return Measurement(cell, sum(counts), elapsed, cpu)


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"airflow_sc_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.make_url(admin_url).set(drivername="postgresql")
    libpq = admin.render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(results: list[Measurement]) -> None:
    header = f"{'adapter':<8}{'database':<10}{'backend':<9}{'tasks':>6}  {'mode':<6}"
    print(f"{header}{'queries/s':>11}{'CPU us/query':>14}")
    for m in results:
        c = m.cell
        print(
            f"{c.adapter:<8}{c.database:<10}{c.backend:<9}{c.tasks:>6}  {c.mode:<6}"
            f"{m.per_second:>11,.0f}{m.cpu_us_per_query:>14,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per cell")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "AIRFLOW_SC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="server on which a throwaway database is created (its admin URL)",
    )
    args = parser.parse_args()

    results: list[Measurement] = []
    with (
        throwaway_postgres(args.postgres_url) as pg_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        for cell in cells():
            url = pg_url if cell.database == "postgres" else sqlite_url
            results.append(anyio.run(measure, cell, url, args.seconds, backend=cell.backend))

    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"db_roundtrips-{stamp}.json"
    payload = {
        "timestamp": stamp,
        "seconds_per_cell": args.seconds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": [
            {
                **asdict(m.cell),
                "queries": m.queries,
                "seconds": m.seconds,
                "cpu_seconds": m.cpu_seconds,
                "queries_per_second": m.per_second,
                "cpu_us_per_query": m.cpu_us_per_query,
            }
            for m in results
        ],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
