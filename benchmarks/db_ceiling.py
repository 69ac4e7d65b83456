"""The ceiling: how many small committed transactions the database itself sustains here.

    python benchmarks/db_ceiling.py [--seconds 3] [--connections 1,4,8] [--batch 1,50]
        [--database sqlite|postgres|both]

Each writer thread holds one connection of the raw driver (sqlite3, psycopg 3; no
SQLAlchemy, no event loop) and repeats: begin, `--batch` single-row
`UPDATE bench SET n = n + 1, updated_at = ... WHERE id = ?` on rows of its own, commit.
SQLite runs as airflow-sc configures it (db/_threaded.py): WAL, `synchronous = NORMAL`,
a busy timeout, `BEGIN IMMEDIATE` for writers. PostgreSQL gets a throwaway database on
AIRFLOW_SC_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432) with its server's settings.

A task instance costs the scheduler a handful of such transactions (scheduled, queued,
running, success, plus the run's own), so commits/s divided by that handful is the most
any orchestrator on this database and machine could reach; the clients share the two
cores with the server, as airflow-sc does. Prints a table and writes JSON to
`benchmarks/results/db_ceiling-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
#: Rows per writer: a batch touches distinct rows, writers never touch each other's.
ROWS_PER_WRITER = 64


@dataclass(frozen=True)
class Ceiling:
    database: str
    connections: int
    batch: int
    seconds: float
    commits: int
    commits_per_s: float
    rows_per_s: float
    #: CPU-seconds of the client process per commit (user + system), in microseconds.
    client_cpu_us_per_commit: float
    errors: int


Writer = Callable[[int, int, threading.Event], tuple[int, int]]


def sqlite_writer(path: Path) -> Writer:
    def write(writer: int, batch: int, stop: threading.Event) -> tuple[int, int]:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        commits = errors = 0
        base = writer * ROWS_PER_WRITER
        try:
            while not stop.is_set():
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    for offset in range(batch):
                        conn.execute(
                            "UPDATE bench SET n = n + 1, updated_at = ? WHERE id = ?",
                            (time.time(), base + offset % ROWS_PER_WRITER),
                        )
                    conn.execute("COMMIT")
                    commits += 1
                except sqlite3.OperationalError:
                    errors += 1
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
        finally:
            conn.close()
        return commits, errors

    return write


def postgres_writer(url: str) -> Writer:
    import psycopg

    def write(writer: int, batch: int, stop: threading.Event) -> tuple[int, int]:
        commits = errors = 0
        base = writer * ROWS_PER_WRITER
        with psycopg.connect(url) as conn:
            while not stop.is_set():
                try:
                    with conn.cursor() as cursor:
                        for offset in range(batch):
                            cursor.execute(
                                "UPDATE bench SET n = n + 1, updated_at = now() WHERE id = %s",
                                (base + offset % ROWS_PER_WRITER,),
                            )
                    conn.commit()
                    commits += 1
                except psycopg.Error:
                    errors += 1
                    conn.rollback()
        return commits, errors

    return write


def measure(database: str, write: Writer, connections: int, batch: int, seconds: float) -> Ceiling:
    stop = threading.Event()
    outcomes: list[tuple[int, int]] = []
    lock = threading.Lock()

    def run(writer: int) -> None:
        outcome = write(writer, batch, stop)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    cpu_before = _cpu()
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu = _cpu() - cpu_before
    commits = sum(c for c, _ in outcomes)
    return Ceiling(
        database=database,
        connections=connections,
        batch=batch,
        seconds=round(elapsed, 3),
        commits=commits,
        commits_per_s=round(commits / elapsed, 1),
        rows_per_s=round(commits * batch / elapsed, 1),
        client_cpu_us_per_commit=round(cpu / commits * 1e6, 1) if commits else 0.0,
        errors=sum(e for _, e in outcomes),
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def create_table(execute: Callable[[str], Any], writers: int) -> None:
    execute("CREATE TABLE bench (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, updated_at REAL)")
    rows = ",".join(f"({i}, 0, NULL)" for i in range(writers * ROWS_PER_WRITER))
    execute(f"INSERT INTO bench (id, n, updated_at) VALUES {rows}")


@contextmanager
def sqlite_database(writers: int) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="db-ceiling-") as tmp:
        path = Path(tmp) / "ceiling.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        create_table(conn.execute, writers)
        conn.close()
        yield path


@contextmanager
def postgres_database(writers: int) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    from airflow_sc.testing import postgres

    with postgres.throwaway_database("airflow_sc_ceiling") as url:
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, autocommit=True) as conn:
            create_table(lambda sql: conn.execute(sql.replace("REAL", "TIMESTAMPTZ")), writers)
            conn.execute("UPDATE bench SET updated_at = now()")
        yield libpq


def print_table(ceilings: list[Ceiling]) -> None:
    header = (
        f"{'database':9} {'conns':>5} {'batch':>5} {'commits/s':>10} {'rows/s':>10} "
        f"{'client us/commit':>16} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for c in ceilings:
        print(
            f"{c.database:9} {c.connections:5d} {c.batch:5d} {c.commits_per_s:10.0f} "
            f"{c.rows_per_s:10.0f} {c.client_cpu_us_per_commit:16.0f} {c.errors:6d}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", default="1,4,8")
    parser.add_argument("--batch", default="1,50")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    connections = [int(c) for c in args.connections.split(",")]
    batches = [int(b) for b in args.batch.split(",")]
    writers = max(connections)
    ceilings: list[Ceiling] = []
    cells = [(c, b) for b in batches for c in connections]
    if args.database in ("sqlite", "both"):
        with sqlite_database(writers) as path:
            for conns, batch in cells:
                ceilings.append(measure("sqlite", sqlite_writer(path), conns, batch, args.seconds))
    if args.database in ("postgres", "both"):
        from airflow_sc.testing import postgres

        reason = postgres.unreachable_reason()
        if reason:
            print(f"skipping PostgreSQL: {reason}", file=sys.stderr)
        else:
            with postgres_database(writers) as url:
                for conns, batch in cells:
                    ceilings.append(
                        measure("postgres", postgres_writer(url), conns, batch, args.seconds)
                    )
    print_table(ceilings)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"db_ceiling-{stamp}.json"
    payload = {
        "timestamp": stamp,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "results": [asdict(c) for c in ceilings],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
