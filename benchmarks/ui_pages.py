"""The web UI's speed: server time to first byte and time until the page is usable in
headless Chromium, for the three pages issue [2-4] names.

    python -m benchmarks.ui_pages [--quick] [--repeat 7] [--backend asyncio|trio]

In a fresh AIRFLOW_SC_HOME on SQLite, a real `airflow-sc run` subprocess serves the UI.
The data:

- DAG files, parsed by its DAG processor: `ui_big`, 100 task groups of 50 EmptyOperator
  tasks each (5,000 tasks, a chain inside each group); `ui_history`, 10 tasks in a chain;
  and 998 one-task DAGs from one file, so the DAG list holds 1,000 DAGs. Every DAG stays
  paused, so the scheduler leaves the runs below alone.
- Runs and task instances written straight into the metadata database once the DAGs are
  stored (SQLAlchemy Core inserts on the server's tables, `airflow_sc.db.models`; filling
  them through the scheduler would take far longer than the measurement): 25 finished runs
  of `ui_big` with all 125,000 task instances (mostly success, some failed, skipped and
  upstream_failed), and 10,000 past runs of `ui_history` with their 100,000 task instances.

Measured pages (signed in as an admin, with the session cookie the sign-in page sets):

- `grid`: `/dags/ui_big`, the DAG page with its Grid (the newest 25 runs);
- `dag_10k_runs`: `/dags/ui_history`, the DAG page of the DAG with 10,000 runs;
- `dag_list`: `/dags`, the list of 1,000 DAGs (its first page).

For each page, `--repeat` times (after one warm-up request): the server's time to first
byte (httpx: request sent until the first body byte arrived) and to the last byte; then,
`--repeat` times, in Debian's headless Chromium (`/usr/bin/chromium`, driven by
Playwright): from `page.goto` until the page's `load` event fired and its readiness
selector is in the DOM (the Grid's cells for a DAG page, the DAG rows for the list).
Median and 95th percentile (the highest value for fewer than 20 samples) are reported
against the issue's goals: grid under 0.5 s to first byte and under 1.5 s usable, list
under 0.3 s to first byte.

`--quick` (development): 10 groups of 10 tasks with 5 runs, 500 past runs, 100 DAGs, 3
repeats. Prints a table and writes JSON to `benchmarks/results/ui_pages-<timestamp>.json`.
The client and the browser share the machine's cores with the server.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from benchmarks.api_latency import AIRFLOW_SC, PASSWORD, airflow_sc_run, free_port

RESULTS = Path(__file__).parent / "results"
CHROMIUM = Path("/usr/bin/chromium")
SESSION_COOKIE = "airflow_sc_session"


@dataclass(frozen=True)
class Shape:
    groups: int
    group_size: int
    grid_runs: int
    history_runs: int
    history_tasks: int
    list_dags: int


FULL = Shape(groups=100, group_size=50, grid_runs=25, history_runs=10_000, history_tasks=10,
             list_dags=1000)  # fmt: skip
QUICK = Shape(groups=10, group_size=10, grid_runs=5, history_runs=500, history_tasks=10,
              list_dags=100)  # fmt: skip


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    ready: str  # a CSS selector that is in the DOM once the page is usable
    goal_ttfb_s: float | None
    goal_usable_s: float | None


PAGES = [
    Page("grid", "/dags/ui_big", "#grid a.cell", 0.5, 1.5),
    Page("dag_10k_runs", "/dags/ui_history", "#grid a.cell", None, None),
    Page("dag_list", "/dags", "table.dags tr.dag", 0.3, None),
]


@dataclass
class Figures:
    page: str
    path: str
    bytes: int
    ttfb_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    usable_s: list[float] = field(default_factory=list)
    goal_ttfb_s: float | None = None
    goal_usable_s: float | None = None

    def summary(self) -> dict[str, float | None]:
        return {
            "ttfb_median_s": _median(self.ttfb_s),
            "ttfb_p95_s": _p95(self.ttfb_s),
            "total_median_s": _median(self.total_s),
            "usable_median_s": _median(self.usable_s),
            "usable_p95_s": _p95(self.usable_s),
        }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) < 20:
        return ordered[-1]
    return ordered[round(0.95 * (len(ordered) - 1))]


# -- the data ------------------------------------------------------------------------------


def write_dag_files(folder: Path, shape: Shape) -> int:
    """The three DAG files; returns how many DAGs they define."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ui_big.py").write_text(
        "from datetime import datetime\n"
        "from airflow_sc.sdk import DAG, EmptyOperator, TaskGroup, chain\n\n"
        "with DAG('ui_big', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        f"    for g in range({shape.groups}):\n"
        "        with TaskGroup(f'g{g:03d}'):\n"
        "            chain(*[EmptyOperator(task_id=f't{i:02d}')\n"
        f"                    for i in range({shape.group_size})])\n"
    )
    (folder / "ui_history.py").write_text(
        "from datetime import datetime\n"
        "from airflow_sc.sdk import DAG, EmptyOperator, chain\n\n"
        "with DAG('ui_history', schedule='@daily', start_date=datetime(2026, 1, 1)):\n"
        "    chain(*[EmptyOperator(task_id=f't{i:02d}')\n"
        f"            for i in range({shape.history_tasks})])\n"
    )
    (folder / "ui_list.py").write_text(
        "from datetime import datetime\n"
        "from airflow_sc.sdk import DAG, EmptyOperator\n\n"
        f"for i in range({shape.list_dags - 2}):\n"
        "    with DAG(f'list_{i:04d}', schedule='@daily', start_date=datetime(2026, 1, 1),\n"
        "             tags=['bench', f'team{i % 7}']) as dag:\n"
        "        EmptyOperator(task_id='only')\n"
        "    globals()[dag.dag_id] = dag\n"
    )
    return shape.list_dags


def _ti_state(run: int, index: int) -> str:
    if (run * 7 + index) % 97 == 0:
        return "failed"
    if (run + index) % 53 == 0:
        return "upstream_failed"
    if (run * 3 + index) % 41 == 0:
        return "skipped"
    return "success"


def fill_runs(database_url: str, shape: Shape, big_tasks: list[str]) -> None:
    """The runs and task instances of `ui_big` and `ui_history` (see the module's doc)."""
    from sqlalchemy import create_engine, insert

    from airflow_sc.db.models import dag_run, task_instance

    engine = create_engine(database_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    history_tasks = [f"t{i:02d}" for i in range(shape.history_tasks)]
    plans = [
        ("ui_big", shape.grid_runs, big_tasks, timedelta(hours=1)),
        ("ui_history", shape.history_runs, history_tasks, timedelta(days=1)),
    ]
    with engine.begin() as conn:
        for dag_id, count, tasks, step in plans:
            runs: list[dict[str, object]] = []
            tis: list[dict[str, object]] = []
            for n in range(count):
                when = start + n * step
                run_id = f"scheduled__{when.isoformat()}"
                failed = any(_ti_state(n, i) == "failed" for i in range(len(tasks)))
                runs.append(
                    {
                        "dag_id": dag_id,
                        "run_id": run_id,
                        "state": "failed" if failed else "success",
                        "run_type": "scheduled",
                        "triggered_by": "timetable",
                        "logical_date": when,
                        "data_interval_start": when,
                        "data_interval_end": when + step,
                        "run_after": when + step,
                        "queued_at": when + step,
                        "start_date": when + step,
                        "end_date": when + step + timedelta(minutes=5),
                    }
                )
                for i, task_id in enumerate(tasks):
                    tis.append(
                        {
                            "id": str(uuid.uuid4()),
                            "dag_id": dag_id,
                            "run_id": run_id,
                            "task_id": task_id,
                            "map_index": -1,
                            "state": _ti_state(n, i),
                            "try_number": 1,
                            "start_date": when + step,
                            "end_date": when + step + timedelta(seconds=1),
                            "duration": 1.0,
                            "pool": "default_pool",
                            "operator": "EmptyOperator",
                        }
                    )
            conn.execute(insert(dag_run), runs)
            for offset in range(0, len(tis), 20_000):
                conn.execute(insert(task_instance), tis[offset : offset + 20_000])
    engine.dispose()


# -- measuring -----------------------------------------------------------------------------


def wait_for(
    what: str, check: Callable[[], bool], seconds: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"airflow-sc run exited before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.5)


def time_to_first_byte(http: httpx.Client, path: str) -> tuple[float, float, int]:
    """Seconds to the first body byte and to the last, and the body's size."""
    started = time.perf_counter()
    with http.stream("GET", path) as response:
        response.raise_for_status()
        first: float | None = None
        size = 0
        for chunk in response.iter_raw():
            if first is None and chunk:
                first = time.perf_counter() - started
            size += len(chunk)
    total = time.perf_counter() - started
    return (first if first is not None else total), total, size


def measure_browser(base: str, token: str, figures: list[Figures], repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
            page = context.new_page()
            for page_spec, result in zip(PAGES, figures, strict=True):
                for attempt in range(repeat + 1):
                    started = time.perf_counter()
                    page.goto(base + page_spec.path, wait_until="load", timeout=120_000)
                    page.wait_for_selector(page_spec.ready, state="attached", timeout=120_000)
                    elapsed = time.perf_counter() - started
                    if attempt:  # the first is a warm-up
                        result.usable_s.append(elapsed)
                    page.goto("about:blank")
        finally:
            browser.close()


def run(shape: Shape, repeat: int, backend: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="ui-pages-") as tmp:
        home = Path(tmp)
        dags = write_dag_files(home / "dags", shape)
        port = free_port()
        env = {
            **os.environ,
            "AIRFLOW_SC_HOME": str(home),
            "AIRFLOW_SC__API__PORT": str(port),
            "AIRFLOW_SC__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW_SC__DAG_PROCESSOR__DAGS_ARE_PAUSED_AT_CREATION": "true",
            "AIRFLOW_SC__LOGGING__LEVEL": "WARNING",
        }
        base = f"http://127.0.0.1:{port}"
        with (
            airflow_sc_run(env, backend, home / "run.log") as process,
            httpx.Client(base_url=base, timeout=120) as http,
        ):

            def healthy() -> bool:
                try:
                    return http.get("/api/v2/monitor/health").status_code == 200
                except httpx.TransportError:
                    return False

            try:
                wait_for("the API answered", healthy, 60, process)
            except (RuntimeError, TimeoutError):
                print((home / "run.log").read_text(errors="replace")[-2000:], file=sys.stderr)
                raise
            subprocess.run(
                    [str(AIRFLOW_SC), "users", "create", "-u", "bench", "-r", "admin",
                     "-p", PASSWORD],
                    env=env, check=True, capture_output=True, timeout=60,
                )  # fmt: skip
            login = http.post("/auth/token", json={"username": "bench", "password": PASSWORD})
            login.raise_for_status()
            token = str(login.json()["access_token"])
            http.headers["Authorization"] = f"Bearer {token}"

            def parsed() -> bool:
                page = http.get("/api/v2/dags", params={"limit": 1})
                return page.status_code == 200 and page.json()["total_entries"] >= dags

            started = time.monotonic()
            wait_for("every DAG was parsed", parsed, 600, process)
            parse_s = time.monotonic() - started
            tasks = http.get("/api/v2/dags/ui_big/tasks").json()["tasks"]
            big_tasks = [t["task_id"] for t in tasks]
            started = time.monotonic()
            fill_runs(f"sqlite:///{home / 'airflow-sc.db'}", shape, big_tasks)
            fill_s = time.monotonic() - started
            del http.headers["Authorization"]
            http.cookies.set(SESSION_COOKIE, token)
            figures: list[Figures] = []
            for page_spec in PAGES:
                time_to_first_byte(http, page_spec.path)  # warm-up
                result = Figures(
                        page_spec.name, page_spec.path, 0,
                        goal_ttfb_s=page_spec.goal_ttfb_s, goal_usable_s=page_spec.goal_usable_s,
                    )  # fmt: skip
                for _ in range(repeat):
                    first, total, size = time_to_first_byte(http, page_spec.path)
                    result.ttfb_s.append(first)
                    result.total_s.append(total)
                    result.bytes = size
                figures.append(result)
            if CHROMIUM.exists():
                measure_browser(base, token, figures, repeat)
            else:
                print(f"{CHROMIUM} is missing: no browser figures", file=sys.stderr)
    return {
        "shape": asdict(shape),
        "backend": backend,
        "repeat": repeat,
        "parse_s": round(parse_s, 1),
        "fill_s": round(fill_s, 1),
        "pages": [{**asdict(f), **f.summary()} for f in figures],
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(result: dict[str, object]) -> None:
    print(f"{'page':<14} {'KiB':>7} {'ttfb p50':>9} {'ttfb p95':>9} {'last byte':>9} "
          f"{'usable p50':>10} {'usable p95':>10}  goals (ttfb / usable)")  # fmt: skip
    for page in result["pages"]:  # type: ignore[attr-defined]
        goals = f"{_fmt(page['goal_ttfb_s'])} / {_fmt(page['goal_usable_s'])}"
        print(
            f"{page['page']:<14} {page['bytes'] / 1024:>7.0f} {_fmt(page['ttfb_median_s']):>9} "
            f"{_fmt(page['ttfb_p95_s']):>9} {_fmt(page['total_median_s']):>9} "
            f"{_fmt(page['usable_median_s']):>10} {_fmt(page['usable_p95_s']):>10}  {goals}"
        )


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 3 repeats")
    parser.add_argument("--repeat", type=int, default=None, help="measurements per page")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args(argv)
    shape = QUICK if args.quick else FULL
    repeat = args.repeat or (3 if args.quick else 7)
    result = run(shape, repeat, args.backend)
    result["quick"] = args.quick
    print_table(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"ui_pages-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")
    return result


if __name__ == "__main__":
    main()
