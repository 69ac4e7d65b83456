"""`python -m benchmarks.workloads`: run workloads, print medians, write one JSON per run.

    python -m benchmarks.workloads --workload W1 --database sqlite --backend asyncio --repeat 3
    python -m benchmarks.workloads --workload all --database both --backend both

    python -m benchmarks.workloads --table-from benchmarks/results/workload-*.json --markdown

`--workload`, `--database` and `--backend` take one value, a comma-separated list or
`all`/`both`; every combination runs `--repeat` times, each from a fresh AIRFLOW_SC_HOME
and database. `--dags N` shrinks the workloads (fewer DAGs of the same shape) for quick
runs. PostgreSQL combinations are skipped, saying why, when no server answers.
`--table-from` runs nothing: it prints the median table of JSON files written before.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .database import postgres_unavailable
from .figures import median_rows
from .run import RunOptions, run_workload
from .shapes import WORKLOADS

RESULTS = Path(__file__).resolve().parents[1] / "results"

KEYS = ("workload", "dags", "database", "backend")
COLUMNS = (
    "task_instances",
    "wall_s",
    "ti_per_s",
    "pickup_ms",
    "lag_p50_ms",
    "lag_p95_ms",
    "cpu_ms_per_ti",
    "commits_per_ti",
    "peak_rss_mb",
)


def choices(value: str, every: Sequence[str], all_word: str) -> list[str]:
    if value == all_word:
        return list(every)
    picked = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in picked if v not in every]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(every)}")
    return picked


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workloads", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--workload", default="all", help="W1,W2,W3,W1a,W2a or all")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgres or both")
    parser.add_argument("--backend", default="asyncio", help="asyncio, trio or both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--dags", type=int, default=None, help="DAGs per workload (default: its own)"
    )
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--run-timeout", type=float, default=600.0)
    parser.add_argument("--keep-log", action="store_true", help="keep each server's log")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--table-from", nargs="+", type=Path, metavar="JSON", help="tabulate earlier runs"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    try:
        args.workloads = choices(args.workload, list(WORKLOADS), "all")
        args.databases = choices(args.database, ["sqlite", "postgres"], "both")
        args.backends = choices(args.backend, ["asyncio", "trio"], "both")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    return args


def format_table(rows: list[dict[str, Any]], *, markdown: bool = False) -> str:
    header = [*KEYS, "runs", *COLUMNS]
    lines = [header]
    for row in rows:
        lines.append([_cell(row.get(column)) for column in header])
    if markdown:
        out = ["| " + " | ".join(line) + " |" for line in lines]
        out.insert(1, "|" + "---|" * len(header))
        return "\n".join(out)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        " ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.table_from:
        saved = sorted(
            (json.loads(path.read_text()) for path in args.table_from),
            key=lambda r: (
                list(WORKLOADS).index(r["workload"]),
                -r["dags"],
                r["database"],
                r["backend"],
            ),
        )
        print(format_table(median_rows(saved, KEYS, COLUMNS), markdown=args.markdown))
        return 0
    databases = list(args.databases)
    if "postgres" in databases:
        reason = postgres_unavailable()
        if reason:
            print(f"skipping PostgreSQL: {reason}", file=sys.stderr)
            databases.remove("postgres")
    options = RunOptions(
        parallelism=args.parallelism, run_timeout=args.run_timeout, keep_log=args.keep_log
    )
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = []
    for name in args.workloads:
        workload = WORKLOADS[name].scaled(args.dags)
        for database in databases:
            for backend in args.backends:
                for repetition in range(1, args.repeat + 1):
                    label = f"{name} {database} {backend} #{repetition}"
                    print(f"running {label} ...", file=sys.stderr, flush=True)
                    result = run_workload(workload, database, backend, options)
                    result["repetition"] = repetition
                    results.append(result)
                    path = (
                        args.results
                        / f"workload-{name}-{database}-{backend}-{stamp}-{repetition}.json"
                    )
                    path.write_text(json.dumps(result, indent=2) + "\n")
                    print(f"  {_summary(result)} -> {path.name}", file=sys.stderr, flush=True)
    print(format_table(median_rows(results, KEYS, COLUMNS), markdown=args.markdown))
    failed = sum(r["failed"] for r in results)
    if failed:
        print(f"{failed} task instance(s) did not succeed", file=sys.stderr)
    return 1 if failed else 0


def _summary(result: dict[str, Any]) -> str:
    parts = [f"wall {result['wall_s']:.3f}s", f"{result['ti_per_s']} TI/s"]
    if "lag_p50_ms" in result:
        parts.append(f"lag p50 {result['lag_p50_ms']} ms")
    parts += [f"{result['cpu_ms_per_ti']} CPU-ms/TI", f"peak RSS {result['peak_rss_mb']} MB"]
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
