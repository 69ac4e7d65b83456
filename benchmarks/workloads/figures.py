"""The figures of one benchmark run, computed from database timestamps (pure, no I/O).

- wall: the first trigger request leaving the harness -> the last task instance's
  end_date; TI/s = task instances / wall.
- task lag (chains only): each task's start_date minus the end_date of the task before it.
- pickup: the first trigger -> the first task instance's start_date.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "TaskTiming",
    "median_rows",
    "percentile",
    "task_lags",
    "timing_figures",
]


@dataclass(frozen=True)
class TaskTiming:
    """One task instance as the database recorded it."""

    dag_id: str
    run_id: str
    task_id: str
    state: str | None
    start: datetime | None
    end: datetime | None
    #: The process that ran the try: the server's own for in-process (`async def`) tasks.
    pid: int | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-quantile (0..1) of `values`, interpolating linearly between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def task_lags(chain: Sequence[TaskTiming]) -> list[float]:
    """Seconds between each task's start and the end of the one before (chain order)."""
    lags = []
    for previous, current in itertools.pairwise(chain):
        if previous.end is None or current.start is None:
            raise ValueError(f"{current.task_id} or the task before it has no recorded time")
        lags.append((current.start - previous.end).total_seconds())
    return lags


def timing_figures(
    timings: Sequence[TaskTiming], first_trigger: datetime, *, chain: bool
) -> dict[str, Any]:
    """Wall time, throughput, pickup and (for chains) task lag of one run of a workload."""
    succeeded = [t for t in timings if t.state == "success"]
    ends = [t.end for t in timings if t.end is not None]
    starts = [t.start for t in timings if t.start is not None]
    wall = (max(ends) - first_trigger).total_seconds() if ends else math.nan
    figures: dict[str, Any] = {
        "task_instances": len(timings),
        "succeeded": len(succeeded),
        "failed": len(timings) - len(succeeded),
        "wall_s": round(wall, 4),
        "ti_per_s": round(len(succeeded) / wall, 2) if wall > 0 else math.nan,
        "pickup_ms": round((min(starts) - first_trigger).total_seconds() * 1000, 2)
        if starts
        else math.nan,
    }
    if chain:
        by_run: dict[tuple[str, str], list[TaskTiming]] = {}
        for timing in timings:
            by_run.setdefault((timing.dag_id, timing.run_id), []).append(timing)
        lags = [
            lag
            for run in by_run.values()
            for lag in task_lags(sorted(run, key=lambda t: t.task_id))
        ]
        figures |= {
            "lag_p50_ms": round(percentile(lags, 0.50) * 1000, 3),
            "lag_p95_ms": round(percentile(lags, 0.95) * 1000, 3),
            "lag_total_s": round(sum(lags), 4),
        }
    return figures


def median_rows(
    results: Iterable[Mapping[str, Any]], keys: Sequence[str], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per distinct `keys`, each of `columns` the median over its runs."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for result in results:
        groups.setdefault(tuple(result[k] for k in keys), []).append(result)
    rows = []
    for group_key, members in groups.items():
        row: dict[str, Any] = dict(zip(keys, group_key, strict=True)) | {"runs": len(members)}
        for column in columns:
            values = [m[column] for m in members if _is_number(m.get(column))]
            row[column] = statistics.median(values) if values else None
        rows.append(row)
    return rows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
