"""REST API latency under 50 concurrent clients: GET /api/v2/dags and POST .../dagRuns.

    python -m benchmarks.api_latency [--under W1] [--database sqlite|postgres|both]
        [--dags 50] [--tasks 20] [--clients 50] [--requests 1000] [--seconds 30]
        [--backend asyncio|trio]

For each database (PostgreSQL only if 127.0.0.1:5432 answers), in a fresh AIRFLOW_SC_HOME:

1. writes `--dags` target DAG files (`--tasks` EmptyOperator tasks in a chain each, no
   schedule; they stay paused, so the runs the clients trigger stay queued), starts a real
   `airflow-sc run` subprocess on a free 127.0.0.1 port and waits until the DAG processor
   has stored every DAG;
2. creates a user with `airflow-sc users create` and logs in through `POST /auth/token`;
3. without load: `--clients` httpx clients send `--requests` requests (or stop after
   `--seconds`) to GET /api/v2/dags, then to POST /api/v2/dags/{id}/dagRuns of the targets;
4. with `--under W1` (or another workload of `benchmarks.workloads`): the workload's DAG
   files are written too; after the idle phase they are unpaused and one run of each is
   triggered at once, and the same two measurements repeat while those runs execute. The
   result says how many of the workload's task instances succeeded during each
   measurement and by its end (end_date read from the database afterwards): a
   measurement after the load is not one under load, and one during which the load made
   no progress says the API starved the scheduler.

Prints a table and writes JSON to `benchmarks/results/api_latency-<timestamp>.json`.
Every request goes to 127.0.0.1; loops are bounded in count and time. The clients share
the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio
import httpx

RESULTS = Path(__file__).parent / "results"
PASSWORD = "bench-password-123"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AIRFLOW_SC = Path(sys.executable).with_name("airflow-sc")


@dataclass
class Figures:
    """Latency percentiles (ms), throughput and errors of one measured endpoint."""

    endpoint: str
    phase: str
    requests: int
    errors: int
    status_counts: dict[str, int]
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: When the measured requests began and ended (UTC, ISO 8601).
    started_at: str = ""
    ended_at: str = ""
    #: Task instances of the load workload that succeeded during this measurement, and
    #: by its end (read from the database afterwards: end_date inside the window).
    load_task_instances_during: int | None = None
    load_task_instances_done: int | None = None


@dataclass
class Result:
    database: str
    backend: str
    dags: int
    tasks_per_dag: int
    clients: int
    under: str | None = None
    figures: list[Figures] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- the server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_dags(folder: Path, dags: int, tasks: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    dag_ids = [f"bench_{i:03d}" for i in range(dags)]
    for dag_id in dag_ids:
        (folder / f"{dag_id}.py").write_text(
            "from datetime import datetime\n"
            "from airflow_sc.sdk import DAG, EmptyOperator, chain\n\n"
            f"with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1)):\n"
            f"    chain(*[EmptyOperator(task_id=f't{{i:02d}}') for i in range({tasks})])\n"
        )
    return dag_ids


def write_load_dags(folder: Path, under: str | None) -> list[str]:
    """The DAG files of the load workload (`benchmarks.workloads`), if any."""
    if under is None:
        return []
    from benchmarks.workloads.shapes import WORKLOADS, write_dag_files

    return write_dag_files(WORKLOADS[under], folder)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    import psycopg

    name = f"bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def airflow_sc_run(
    env: dict[str, str], backend: str, log_file: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`airflow-sc run` in its own session; SIGTERM (then SIGKILL of the group) on exit."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [str(AIRFLOW_SC), "run", "--backend", backend],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(AIRFLOW_SC), *args], env=env, check=True, capture_output=True, timeout=60)


async def wait_until(
    what: str,
    check: Callable[[], Awaitable[bool]],
    *,
    seconds: float,
    process: subprocess.Popen[bytes],
) -> None:
    with anyio.fail_after(seconds):
        while not await check():
            if process.poll() is not None:
                raise RuntimeError(f"airflow-sc run exited ({process.returncode}) before {what}")
            await anyio.sleep(0.2)


# -- measuring ------------------------------------------------------------------------------


def summarize(
    endpoint: str, phase: str, latencies: list[float], statuses: list[int], seconds: float
) -> Figures:
    ordered = sorted(latencies) or [0.0]

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return Figures(
        endpoint=endpoint,
        phase=phase,
        requests=len(latencies),
        errors=sum(1 for s in statuses if s >= 400 or s == 0),
        status_counts=counts,
        seconds=round(seconds, 3),
        requests_per_second=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=round(pct(0.50), 2),
        p99_ms=round(pct(0.99), 2),
        max_ms=round(max(ordered) * 1000, 2),
    )


async def hammer(
    http: httpx.AsyncClient,
    send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    clients: int,
    requests: int,
    seconds: float,
) -> tuple[list[float], list[int], float]:
    """`clients` concurrent loops share `requests` sends; stop early after `seconds`."""
    latencies: list[float] = []
    statuses: list[int] = []
    next_index = 0
    stop_at = time.perf_counter() + seconds

    async def client_loop() -> None:
        nonlocal next_index
        while next_index < requests and time.perf_counter() < stop_at:
            index = next_index
            next_index += 1
            began = time.perf_counter()
            try:
                status = (await send(http, index)).status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - began)
            statuses.append(status)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(client_loop)
    return latencies, statuses, time.perf_counter() - began


async def measure_phase(
    http: httpx.AsyncClient, dag_ids: list[str], phase: str, args: argparse.Namespace
) -> list[Figures]:
    figures = []

    async def get_dags(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.get("/api/v2/dags", params={"limit": 50})

    async def trigger(client: httpx.AsyncClient, index: int) -> httpx.Response:
        dag_id = dag_ids[index % len(dag_ids)]
        return await client.post(
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"dag_run_id": f"{phase}__{uuid.uuid4().hex}", "logical_date": None},
        )

    for endpoint, send in (
        ("GET /api/v2/dags", get_dags),
        ("POST /api/v2/dags/{dag_id}/dagRuns", trigger),
    ):
        # A short warm-up (connections, caches) that is not counted.
        await hammer(http, send, clients=args.clients, requests=args.clients, seconds=5)
        started_at = datetime.now(UTC)
        latencies, statuses, seconds = await hammer(
            http, send, clients=args.clients, requests=args.requests, seconds=args.seconds
        )
        measured = summarize(endpoint, phase, latencies, statuses, seconds)
        measured.started_at = started_at.isoformat()
        measured.ended_at = datetime.now(UTC).isoformat()
        figures.append(measured)
    return figures


async def scheduler_running(http: httpx.AsyncClient) -> bool:
    health = (await http.get("/api/v2/monitor/health")).json()
    scheduler = health.get("scheduler") or {}
    return scheduler.get("status") == "healthy"


async def run_under_load(
    http: httpx.AsyncClient,
    dag_ids: list[str],
    load_ids: list[str],
    database_url: str,
    result: Result,
    args: argparse.Namespace,
) -> None:
    """Unpause and trigger the workload's DAGs, then measure again while their runs execute."""
    if not await scheduler_running(http):
        result.notes.append(f"{args.under} phase skipped: no healthy scheduler")
        return
    for dag_id in load_ids:
        (await http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})).raise_for_status()
    async with anyio.create_task_group() as tg:
        for dag_id in load_ids:
            tg.start_soon(
                partial(http.post, f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
            )
    load_phase = f"{args.under.lower()}_load"
    measured = await measure_phase(http, dag_ids, load_phase, args)
    ends = await anyio.to_thread.run_sync(partial(load_end_dates, database_url, set(load_ids)))
    expected = args.load_task_instances
    for figures in measured:
        began = datetime.fromisoformat(figures.started_at)
        ended = datetime.fromisoformat(figures.ended_at)
        figures.load_task_instances_during = sum(1 for end in ends if began <= end < ended)
        figures.load_task_instances_done = sum(1 for end in ends if end < ended)
        result.figures.append(figures)
        result.notes.append(
            f"{figures.endpoint} under {args.under}: {figures.load_task_instances_during} task "
            f"instances of it succeeded during the measurement, "
            f"{figures.load_task_instances_done} of {expected} by its end"
        )


def load_end_dates(database_url: str, dag_ids: set[str]) -> list[datetime]:
    """end_date of every successful task instance of `dag_ids`, from the database."""
    from benchmarks.workloads.database import Metadata

    metadata = Metadata(database_url)
    try:
        return [
            t.end
            for t in metadata.task_timings()
            if t.dag_id in dag_ids and t.state == "success" and t.end is not None
        ]
    finally:
        metadata.close()


async def run_database(database: str, url: str | None, args: argparse.Namespace) -> Result:
    result = Result(database, args.backend, args.dags, args.tasks, args.clients, args.under)
    with tempfile.TemporaryDirectory(prefix="api-latency-") as tmp:
        home = Path(tmp)
        dag_ids = write_dags(home / "dags", args.dags, args.tasks)
        load_ids = write_load_dags(home / "dags", args.under)
        port = free_port()
        env = {
            **os.environ,
            "AIRFLOW_SC_HOME": str(home),
            "AIRFLOW_SC__API__PORT": str(port),
            "AIRFLOW_SC__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW_SC__DAG_PROCESSOR__DAGS_ARE_PAUSED_AT_CREATION": "true",
            "AIRFLOW_SC__LOGGING__LEVEL": "WARNING",
        }
        if url is not None:
            env["AIRFLOW_SC__DATABASE__URL"] = url
        base = f"http://127.0.0.1:{port}"
        if url is not None:
            # `airflow-sc run` creates the schema of a SQLite file, not of a server database.
            await anyio.to_thread.run_sync(lambda: cli(env, "db", "migrate"))
        with airflow_sc_run(env, args.backend, home / "run.log") as process:
            limits = httpx.Limits(
                max_connections=args.clients, max_keepalive_connections=args.clients
            )
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

                async def healthy() -> bool:
                    try:
                        return (await http.get("/api/v2/monitor/health")).status_code == 200
                    except httpx.TransportError:
                        return False

                try:
                    await wait_until("the API answered", healthy, seconds=60, process=process)
                except (RuntimeError, TimeoutError):
                    print(_log_tail(home), file=sys.stderr)
                    raise
                await anyio.to_thread.run_sync(
                    lambda: cli(
                        env, "users", "create", "-u", "bench", "-r", "admin", "-p", PASSWORD
                    )
                )
                login = await http.post(
                    "/auth/token", json={"username": "bench", "password": PASSWORD}
                )
                login.raise_for_status()
                http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

                async def parsed() -> bool:
                    page = await http.get("/api/v2/dags", params={"limit": 1})
                    total = args.dags + len(load_ids)
                    return page.status_code == 200 and page.json()["total_entries"] >= total

                await wait_until("every DAG was parsed", parsed, seconds=180, process=process)
                result.figures += await measure_phase(http, dag_ids, "idle", args)
                if load_ids:
                    database_url = url or f"sqlite:///{home / 'airflow-sc.db'}"
                    await run_under_load(http, dag_ids, load_ids, database_url, result, args)
    return result


def print_table(results: list[Result]) -> None:
    header = (
        f"{'database':9} {'phase':8} {'endpoint':36} {'n':>6} {'err':>5} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for f in result.figures:
            print(
                f"{result.database:9} {f.phase:8} {f.endpoint:36} {f.requests:6d} {f.errors:5d} "
                f"{f.requests_per_second:8.1f} {f.p50_ms:8.2f} {f.p99_ms:8.2f}"
            )
        for note in result.notes:
            print(f"  {result.database}: {note}")


async def main(args: argparse.Namespace) -> list[Result]:
    results = []
    if args.database in ("sqlite", "both"):
        results.append(await run_database("sqlite", None, args))
    if args.database in ("postgres", "both"):
        if postgres_reachable():
            with throwaway_postgres() as url:
                results.append(await run_database("postgres", url, args))
        else:
            print("PostgreSQL is not reachable on 127.0.0.1:5432: skipped", file=sys.stderr)
    return results


def _log_tail(home: Path) -> str:
    log = home / "run.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--dags", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--under",
        choices=["W1", "W1a", "W3"],
        default=None,
        help="also measure while this workload of benchmarks.workloads runs",
    )
    args = parser.parse_args(argv)
    args.load_task_instances = 0
    if args.under is not None:
        from benchmarks.workloads.shapes import WORKLOADS

        args.load_task_instances = WORKLOADS[args.under].task_instances
    return args


if __name__ == "__main__":
    if not __package__:
        # Run as a script: make `benchmarks.workloads` importable from the checkout.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    arguments = parse_args()
    measured = anyio.run(main, arguments)
    print_table(measured)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"api_latency-{stamp}.json"
    out.write_text(json.dumps([asdict(r) for r in measured], indent=2) + "\n")
    print(f"written: {out}")
