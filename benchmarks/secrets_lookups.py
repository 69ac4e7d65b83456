"""Lookups per second through the secrets chain, cold (every lookup reaches a backend) and cached.

    python benchmarks/secrets_lookups.py [--seconds N] [--postgres-url URL]

The chain is environment -> local JSON file -> metastore (a migrated SQLite file, or the
PostgreSQL database given) with Fernet-encrypted rows. Each cell looks up a connection
that one source holds ("miss" = none holds it, so every backend is asked), with 1 or 10
concurrent tasks, on asyncio and trio. "cold" calls the chain directly; "cached" goes
through `SecretsCache` after one warm-up lookup. Prints a table and writes JSON to
`benchmarks/results/secrets_lookups-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio

from airflow_sc.db.engine import open_database
from airflow_sc.db.schema import migrate_sync
from airflow_sc.secrets import (
    Connection,
    MetastoreBackend,
    SecretsBackend,
    SecretsCache,
    SecretsCipher,
    SecretsMasker,
    SecretsSettings,
    build_chain,
    generate_fernet_key,
)

RESULTS = Path(__file__).parent / "results"
Source = Literal["environment", "local_file", "metastore", "miss"]
CONN_IDS: dict[Source, str] = {
    "environment": "env_conn",
    "local_file": "file_conn",
    "metastore": "db_conn",
    "miss": "nowhere",
}


@dataclass(frozen=True)
class Cell:
    backend: Literal["asyncio", "trio"]
    database: Literal["sqlite", "postgres"]
    source: Source
    mode: Literal["cold", "cached"]
    tasks: int


@dataclass(frozen=True)
class Measurement:
    cell: Cell
    lookups: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.lookups / self.seconds

    @property
    def cpu_us_per_lookup(self) -> float:
        return self.cpu_seconds / self.lookups * 1e6


async def _drive(target: SecretsBackend, conn_id: str, tasks: int, seconds: float) -> int:
    count = 0
    deadline = anyio.current_time() + seconds

    async def worker() -> None:
        nonlocal count
        while anyio.current_time() < deadline:
            await target.get_connection(conn_id)
            count += 1

    async with anyio.create_task_group() as tg:
        for _ in range(tasks):
            tg.start_soon(worker)
    return count


async def measure(cells: list[Cell], url: str, workdir: Path, seconds: float) -> list[Measurement]:
    connections = workdir / "connections.json"
    connections.write_text(json.dumps({"file_conn": "postgres://u:p@file-host/db"}))
    cipher = SecretsCipher(generate_fernet_key())
    out: list[Measurement] = []
    async with open_database(url) as db:
        await MetastoreBackend(db, cipher).set_connection(
            Connection(conn_id="db_conn", conn_type="postgres", host="db-host", password="pw-1")
        )
        chain = build_chain(
            SecretsSettings(connections_file=connections),
            environ={"AIRFLOW_SC_CONN_ENV_CONN": "postgres://u:p@env-host/db"},
            database=db,
            cipher=cipher,
            masker=SecretsMasker(),
        )
        for cell in cells:
            conn_id = CONN_IDS[cell.source]
            target: SecretsBackend = chain
            if cell.mode == "cached":
                target = SecretsCache(chain, ttl=3600, negative_ttl=3600)
                await target.get_connection(conn_id)
            cpu = time.process_time()
            started = time.perf_counter()
            lookups = await _drive(target, conn_id, cell.tasks, seconds)
            out.append(
                Measurement(cell, lookups, time.perf_counter() - started, time.process_time() - cpu)
            )
    return out


def print_table(results: list[Measurement]) -> None:
    header = (
        f"{'backend':8} {'database':9} {'source':12} {'mode':7} {'tasks':>5} "
        f"{'lookups/s':>11} {'cpu us/lookup':>14}"
    )
    print(header)
    print("-" * len(header))
    for m in results:
        c = m.cell
        print(
            f"{c.backend:8} {c.database:9} {c.source:12} {c.mode:7} {c.tasks:>5} "
            f"{m.per_second:>11,.0f} {m.cpu_us_per_lookup:>14.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per cell")
    parser.add_argument("--postgres-url", help="a migrated PostgreSQL database to use")
    args = parser.parse_args()

    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        databases: list[tuple[Literal["sqlite", "postgres"], str]] = []
        sqlite_url = f"sqlite:///{workdir / 'metadata.db'}"
        migrate_sync(sqlite_url)
        databases.append(("sqlite", sqlite_url))
        if args.postgres_url:
            databases.append(("postgres", args.postgres_url))
        for database, url in databases:
            for backend in ("asyncio", "trio"):
                cells = [
                    Cell(backend, database, source, mode, tasks)
                    for mode in ("cold", "cached")
                    for source in CONN_IDS
                    for tasks in (1, 10)
                ]
                results += anyio.run(measure, cells, url, workdir, args.seconds, backend=backend)

    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"secrets_lookups-{stamp}.json"
    payload = {
        "benchmark": "secrets_lookups",
        "when": stamp,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds_per_cell": args.seconds,
        "results": [
            {
                **asdict(m.cell),
                "lookups": m.lookups,
                "lookups_per_second": round(m.per_second),
                "cpu_us_per_lookup": round(m.cpu_us_per_lookup, 1),
            }
            for m in results
        ],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
