"""The Grid of a DAG page, decided in plain code: runs x tasks and each cell's state.

`build_grid` takes what the queries returned (the newest runs, their task instances, the
DAG's tasks) and lays it out: runs oldest to newest from left to right, tasks in
dependency order (upstream first, then as the DAG defines them). `cell_states` is what the
live stream sends, and `changed_cells` what changed between two looks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Grid", "GridRun", "build_grid", "changed_cells", "task_order"]

#: (run_id, task_id) -> the task instance's state ("none" when it has none yet).
CellStates = dict[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class GridRun:
    pk: int
    run_id: str
    state: str
    run_after: datetime


@dataclass(frozen=True, slots=True)
class Grid:
    runs: list[GridRun]
    task_ids: list[str]
    cells: CellStates

    def state(self, run_id: str, task_id: str) -> str:
        return self.cells.get((run_id, task_id), "none")


def task_order(tasks: Sequence[str], upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """`tasks` with every task after its upstream tasks; ties keep the given order."""
    placed: list[str] = []
    done: set[str] = set()
    remaining = list(tasks)
    while remaining:
        ready = [t for t in remaining if all(u in done for u in upstream.get(t, ()))]
        if not ready:  # a cycle cannot be stored, but never loop forever over bad data
            ready = remaining[:1]
        for task_id in ready:
            placed.append(task_id)
            done.add(task_id)
        remaining = [t for t in remaining if t not in done]
    return placed


def build_grid(
    runs_newest_first: Sequence[GridRun],
    task_ids: list[str],
    task_instances: Iterable[tuple[str, str, str | None]],
) -> Grid:
    """`task_instances`: (run_id, task_id, state) rows of those runs (map index -1)."""
    cells: CellStates = {
        (run_id, task_id): state or "none" for run_id, task_id, state in task_instances
    }
    shown = set(task_ids)
    # Tasks a run had that the newest DAG version no longer has still get a row.
    extra = sorted({task_id for _, task_id in cells} - shown)
    return Grid(list(reversed(runs_newest_first)), task_ids + extra, cells)


def changed_cells(before: CellStates, after: CellStates) -> CellStates:
    return {key: state for key, state in after.items() if before.get(key) != state}
