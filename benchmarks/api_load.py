"""The API under load (issue 13): 100 keep-alive clients on the two list routes, and what
that load does to a 40-task chain's lag.

    python -m benchmarks.api_load [--database sqlite|postgres|both] [--backend asyncio|trio]
        [--clients 100] [--seconds 20] [--repeat 1] [--quick]

For each database (PostgreSQL only when 127.0.0.1:5432 answers), in a fresh
AIRFLOW_SC_HOME and database:

1. writes `--dags` paused DAG files (5 EmptyOperator tasks each) and W2's 40-task chain of
   `benchmarks.workloads` (PythonOperator tasks in the local executor), starts a real
   `airflow-sc run` subprocess, logs in as admin, waits until every DAG is stored,
   unpauses the chain and triggers `--runs` runs of each paused DAG (they stay queued:
   the DAGs are paused), so both routes return full pages;
2. idle: triggers one run of the chain and waits for it to finish;
3. under load: `--clients` clients, each on one keep-alive connection, half of them
   looping on `GET /api/v2/dags?limit=50`, half on `GET /api/v2/dags/{dag_id}/dagRuns?
   limit=50` (the dag_id going round the paused DAGs and the chain). After a 2 s warm-up
   the measurement starts, a run of the chain is triggered and the load goes on until
   that run finished and at least `--seconds` have passed;
4. the chain's lag (each task's start_date minus the end_date of the task before it) is
   read from the database for both runs, never from logs.

Figures: per route requests/s, p50/p99/max latency (from writing the request to reading
the whole body), status counts and dropped connections (a connection closed, reset or
refused before a response was read; the client reconnects and counts it); the chain's lag
p50/p99 idle and under load; the CPU-seconds of the server's process tree and of the
benchmark process (the clients) during the measurement.

The clients share the two cores with the server. They are a small HTTP/1.1 client on anyio
streams (request bytes prepared once, responses read by Content-Length, no parsing of the
body) in this one process on asyncio, not httpx: the JSON lists that result at the end
say what they cost (`client_cpu_s`, `client_cpu_ms_per_request`; about 0.1 ms of CPU per
request here, i.e. a tenth of a core at 1000 requests/s).

Prints a table and writes JSON to `benchmarks/results/api_load-<timestamp>.json`.
The load window ends at `--max-seconds` (90) even if the chain run has not finished; its
lag is then that of the tasks that ran, and `lag_loaded.succeeded` says how many did.
`--quick`: SQLite only, a window of 8 to 30 s: a quick look, not the figures of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

if __package__ in (None, ""):
    # Run as a script: make `benchmarks.workloads` importable from the checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workloads.database import (
    Metadata,
    open_metadata,
    postgres_unavailable,
)
from benchmarks.workloads.figures import percentile, task_lags
from benchmarks.workloads.server import Server, log_in, open_server, wait_parsed
from benchmarks.workloads.shapes import WORKLOADS, write_dag_files

RESULTS = Path(__file__).parent / "results"
ROUTE_DAGS = "GET /api/v2/dags"
ROUTE_RUNS = "GET /api/v2/dags/{dag_id}/dagRuns"
WARM_UP_S = 2.0


# -- a lean keep-alive HTTP/1.1 client --------------------------------------------------------


class Dropped(Exception):
    """The connection ended before a whole response was read."""


class Connection:
    """One keep-alive HTTP/1.1 connection: send a prepared GET, read status and body."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._stream: SocketStream | None = None
        self._reader: BufferedByteReceiveStream | None = None

    async def get(self, request: bytes) -> int:
        if self._stream is None:
            try:
                self._stream = await anyio.connect_tcp(self.host, self.port)
            except OSError as exc:
                raise Dropped(f"connect: {exc}") from None
            self._reader = BufferedByteReceiveStream(self._stream)
        assert self._reader is not None
        try:
            await self._stream.send(request)
            head = await self._reader.receive_until(b"\r\n\r\n", 65536)
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await self._reader.receive_exactly(length)
        except (OSError, anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
            await self.close()
            raise Dropped("closed before the response") from None
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()
        self._stream = None
        self._reader = None


def prepared_get(host: str, port: int, target: str, token: str) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()


@dataclass
class RouteLoad:
    """What the clients of one route measured (latencies of the measurement window)."""

    route: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    dropped: int = 0


@dataclass
class Load:
    routes: dict[str, RouteLoad]
    measuring: bool = False
    stop: bool = False

    def reset(self) -> None:
        for route in self.routes.values():
            route.latencies.clear()
            route.statuses.clear()
            route.dropped = 0


async def client_loop(
    load: Load, route: RouteLoad, requests: list[bytes], start_at: int, host: str, port: int
) -> None:
    connection = Connection(host, port)
    index = start_at
    try:
        while not load.stop:
            request = requests[index % len(requests)]
            index += 1
            began = time.perf_counter()
            try:
                status = await connection.get(request)
            except Dropped:
                if load.measuring:
                    route.dropped += 1
                await anyio.sleep(0.01)
                continue
            if load.measuring:
                route.latencies.append(time.perf_counter() - began)
                route.statuses[status] = route.statuses.get(status, 0) + 1
    finally:
        await connection.close()


# -- one measurement --------------------------------------------------------------------------


def route_figures(route: RouteLoad, seconds: float) -> dict[str, Any]:
    ms = [x * 1000 for x in route.latencies]
    ok = route.statuses.get(200, 0)
    return {
        "route": route.route,
        "requests": len(ms),
        "ok": ok,
        "status_counts": {str(k): v for k, v in sorted(route.statuses.items())},
        "dropped": route.dropped,
        "requests_per_second": round(len(ms) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(ms, 0.50), 2) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }


def chain_lags(metadata: Metadata, dag_id: str, run_id: str) -> dict[str, Any]:
    timings = sorted(
        (t for t in metadata.task_timings() if t.dag_id == dag_id and t.run_id == run_id),
        key=lambda t: t.task_id,
    )
    succeeded = sum(1 for t in timings if t.state == "success")
    # A run cut short by `--max-seconds`: the lags of the tasks that ran.
    ran = [t for t in timings if t.start is not None and t.end is not None]
    lags = [x * 1000 for x in task_lags(ran)]
    return {
        "run_id": run_id,
        "tasks": len(timings),
        "succeeded": succeeded,
        "lag_p50_ms": round(percentile(lags, 0.50), 2),
        "lag_p99_ms": round(percentile(lags, 0.99), 2),
        "lag_max_ms": round(max(lags), 2),
        "chain_s": round((timings[-1].end - timings[0].start).total_seconds(), 3)
        if timings and timings[-1].end and timings[0].start
        else None,
    }


def tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def trigger_chain(http: httpx.AsyncClient, dag_id: str, run_id: str) -> None:
    response = await http.post(
        f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None}
    )
    if response.status_code != 200:
        raise RuntimeError(f"trigger {dag_id}: {response.status_code} {response.text}")


async def run_finished(http: httpx.AsyncClient, dag_id: str, run_id: str) -> bool:
    response = await http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    state = response.json().get("state") if response.status_code == 200 else None
    if state == "failed":
        raise RuntimeError(f"the chain run {run_id} failed")
    return state == "success"


async def wait_run(metadata: Metadata, dag_id: str, run_id: str, seconds: float) -> None:
    """Wait for the chain run through the database (not the API under measurement)."""
    with anyio.fail_after(seconds):
        while True:
            timings = await anyio.to_thread.run_sync(metadata.task_timings)
            mine = [t for t in timings if t.dag_id == dag_id and t.run_id == run_id]
            if mine and all(t.state in ("success", "failed", "upstream_failed") for t in mine):
                return
            await anyio.sleep(0.1)


async def drive(
    server: Server, metadata: Metadata, paused: list[str], chain: str, args: argparse.Namespace
) -> dict[str, Any]:
    api_url = await server.wait_ready(180)
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
        await log_in(http, server.admin_password())
        await wait_parsed(http, len(paused) + 1, 180)
        (await http.patch(f"/api/v2/dags/{chain}", json={"is_paused": False})).raise_for_status()
        for dag_id in paused:
            for _ in range(args.runs):
                response = await http.post(
                    f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}
                )
                response.raise_for_status()
        token = http.headers["Authorization"].removeprefix("Bearer ")

        # Idle: the chain alone.
        await trigger_chain(http, chain, "idle")
        await wait_run(metadata, chain, "idle", 300)
        idle = await anyio.to_thread.run_sync(chain_lags, metadata, chain, "idle")

        host, port_text = api_url.removeprefix("http://").rsplit(":", 1)
        port = int(port_text)
        dags_requests = [prepared_get(host, port, "/api/v2/dags?limit=50", token)]
        runs_requests = [
            prepared_get(host, port, f"/api/v2/dags/{dag_id}/dagRuns?limit=50", token)
            for dag_id in [*paused, chain]
        ]
        load = Load({r: RouteLoad(r) for r in (ROUTE_DAGS, ROUTE_RUNS)})
        async with anyio.create_task_group() as tg:
            for number in range(args.clients):
                if number % 2 == 0:
                    route, requests = load.routes[ROUTE_DAGS], dags_requests
                else:
                    route, requests = load.routes[ROUTE_RUNS], runs_requests
                tg.start_soon(client_loop, load, route, requests, number, host, port)
            await anyio.sleep(WARM_UP_S)
            load.reset()
            load.measuring = True
            began = time.perf_counter()
            server_cpu_before, client_cpu_before = tree_cpu(server.process.pid), own_cpu()
            await trigger_chain(http, chain, "loaded")
            with anyio.move_on_after(args.max_seconds):
                await wait_run(metadata, chain, "loaded", args.max_seconds + 1)
            remaining = args.seconds - (time.perf_counter() - began)
            if remaining > 0:
                await anyio.sleep(remaining)
            load.measuring = False
            seconds = time.perf_counter() - began
            server_cpu = tree_cpu(server.process.pid) - server_cpu_before
            client_cpu = own_cpu() - client_cpu_before
            load.stop = True
        loaded = await anyio.to_thread.run_sync(chain_lags, metadata, chain, "loaded")
    routes = [route_figures(r, seconds) for r in load.routes.values()]
    total = sum(r["requests"] for r in routes)
    return {
        "seconds": round(seconds, 3),
        "requests_per_second": round(total / seconds, 1),
        "routes": routes,
        "dropped": sum(r["dropped"] for r in routes),
        "errors": sum(r["requests"] - r["ok"] for r in routes),
        "lag_idle": idle,
        "lag_loaded": loaded,
        "lag_p50_ratio": round(loaded["lag_p50_ms"] / idle["lag_p50_ms"], 3)
        if idle["lag_p50_ms"]
        else None,
        "server_cpu_s": round(server_cpu, 3),
        "client_cpu_s": round(client_cpu, 3),
        "client_cpu_ms_per_request": round(client_cpu / total * 1000, 4) if total else None,
    }


def run_once(database: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-api-load-") as tmp:
        home = Path(tmp)
        folder = home / "dags"
        folder.mkdir()
        paused = [f"bench_api_{i:03d}" for i in range(args.dags)]
        for dag_id in paused:
            (folder / f"{dag_id}.py").write_text(
                "from datetime import datetime\n"
                "from airflow_sc.sdk import DAG, EmptyOperator, chain\n\n"
                f"with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1),\n"
                "         is_paused_upon_creation=True, tags=['bench']):\n"
                "    chain(*[EmptyOperator(task_id=f't{i}') for i in range(5)])\n"
            )
        [chain] = write_dag_files(WORKLOADS["W2"], folder)
        load_before = os.getloadavg()
        with (
            open_metadata(database, home) as metadata,
            open_server(
                home=home,
                database_url=metadata.url,
                backend=args.backend,
                parallelism=8,
                extra_env={},
            ) as server,
        ):
            try:
                measured = anyio.run(drive, server, metadata, paused, chain, args)
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
            server.stop()
    return {
        "database": database,
        "backend": args.backend,
        "clients": args.clients,
        "dags": args.dags + 1,
        **measured,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "notes": server.notes,
    }


# -- output ---------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def median_summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per database: the median of each figure over the repeats."""
    rows = []
    for database in dict.fromkeys(r["database"] for r in results):
        runs = [r for r in results if r["database"] == database]
        row: dict[str, Any] = {"database": database, "runs": len(runs)}
        row["req_s"] = _median([r["requests_per_second"] for r in runs])
        for key, short in ((ROUTE_DAGS, "dags"), (ROUTE_RUNS, "runs")):
            per = [next(x for x in r["routes"] if x["route"] == key) for r in runs]
            row[f"{short}_req_s"] = _median([x["requests_per_second"] for x in per])
            row[f"{short}_p50_ms"] = _median([x["p50_ms"] for x in per])
            row[f"{short}_p99_ms"] = _median([x["p99_ms"] for x in per])
        row["dropped"] = sum(r["dropped"] for r in runs)
        row["errors"] = sum(r["errors"] for r in runs)
        row["lag_idle_p50_ms"] = _median([r["lag_idle"]["lag_p50_ms"] for r in runs])
        row["lag_loaded_p50_ms"] = _median([r["lag_loaded"]["lag_p50_ms"] for r in runs])
        row["lag_loaded_p99_ms"] = _median([r["lag_loaded"]["lag_p99_ms"] for r in runs])
        row["lag_ratio"] = _median([r["lag_p50_ratio"] for r in runs])
        row["client_cpu_ms_per_req"] = _median([r["client_cpu_ms_per_request"] for r in runs])
        rows.append(row)
    return rows


def print_table(results: list[dict[str, Any]], file: Any = None) -> None:
    with redirect_stdout(file or sys.stdout):
        _print_table(results)


def _print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'database':9} {'route':33} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'non-200':>7} {'dropped':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for r in result["routes"]:
            print(
                f"{result['database']:9} {r['route']:33} {r['requests_per_second']:7.1f} "
                f"{r['p50_ms'] or 0:8.1f} {r['p99_ms'] or 0:8.1f} {r['max_ms'] or 0:8.1f} "
                f"{r['requests'] - r['ok']:7d} {r['dropped']:7d}"
            )
        idle, loaded = result["lag_idle"], result["lag_loaded"]
        print(
            f"  {result['database']}: {result['requests_per_second']} req/s in "
            f"{result['seconds']} s; chain lag p50/p99 idle {idle['lag_p50_ms']}/"
            f"{idle['lag_p99_ms']} ms, under load {loaded['lag_p50_ms']}/"
            f"{loaded['lag_p99_ms']} ms (x{result['lag_p50_ratio']}); CPU s server "
            f"{result['server_cpu_s']}, clients {result['client_cpu_s']} "
            f"({result['client_cpu_ms_per_request']} ms/request)"
        )
    if len(results) > 1:
        print("medians:")
        for row in median_summary(results):
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--dags", type=int, default=20, help="paused DAGs besides the chain")
    parser.add_argument("--runs", type=int, default=5, help="queued runs of each paused DAG")
    parser.add_argument("--seconds", type=float, default=20.0, help="shortest load window")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=90.0,
        help="longest load window: a chain run still going then is measured as far as it got",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="SQLite only, an 8 to 30 s window")
    args = parser.parse_args(argv)
    if args.quick:
        args.database, args.seconds, args.max_seconds = "sqlite", 8.0, 30.0
    return args


@contextmanager
def _no_proxy() -> Iterator[None]:
    # The harness talks to 127.0.0.1 only.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.lower().endswith("_proxy")}
    try:
        yield
    finally:
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = []
    with _no_proxy():
        for database in databases:
            if database == "postgres" and (reason := postgres_unavailable()):
                print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
                continue
            for _ in range(args.repeat):
                results.append(run_once(database, args))
                print_table(results[-1:], file=sys.stderr)
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"api_load-{stamp}.json"
    out.write_text(
        json.dumps({"runs": results, "medians": median_summary(results)}, indent=2) + "\n"
    )
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
