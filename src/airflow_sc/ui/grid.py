"""The Grid of a DAG page, decided in plain code: runs x tasks and each cell's state.

`build_grid` takes what the queries returned (the newest runs, their task instances, the
DAG's tasks) and lays it out: runs oldest to newest from left to right, tasks in
dependency order (upstream first, then as the DAG defines them). `cell_states` is what the
live stream sends, and `changed_cells` what changed between two looks.

Task groups are rows too (`grid_rows`): a group is collapsed unless the page asked for it
(`expand`), and a collapsed group's row stands for all its tasks, with one summary state
per run (`group_state`, the order of precedence Airflow's Grid uses). `Grid.shown` keeps
only the cells of the rows on screen, so a 5,000-task DAG in 100 collapsed groups renders
and streams 100 rows, not 5,000.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Grid",
    "GridRow",
    "GridRun",
    "build_grid",
    "changed_cells",
    "grid_rows",
    "group_state",
    "task_order",
]

#: (run_id, task_id) -> the task instance's state ("none" when it has none yet).
CellStates = dict[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class GridRun:
    pk: int
    run_id: str
    state: str
    run_after: datetime


@dataclass(frozen=True, slots=True)
class GridRow:
    """One row: a task, or a task group (`group`), `depth` groups deep."""

    id: str
    label: str
    depth: int
    group: bool = False
    expanded: bool = False
    #: The group's tasks (every depth), for a group row.
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Grid:
    runs: list[GridRun]
    task_ids: list[str]
    cells: CellStates
    #: The rows on screen; `task_ids` as task rows when not given.
    rows: list[GridRow] | None = None

    def state(self, run_id: str, task_id: str) -> str:
        return self.cells.get((run_id, task_id), "none")

    @property
    def shown_rows(self) -> list[GridRow]:
        if self.rows is not None:
            return self.rows
        return [GridRow(t, t, 0) for t in self.task_ids]

    def shown(self, rows: list[GridRow]) -> Grid:
        """The Grid with `rows` on screen: their cells only, a group's its summary state.
        A task of the Grid no row covers (one the newest version dropped) gets a row last."""
        covered = {t for row in rows for t in (row.tasks if row.group else (row.id,))}
        rows = rows + [GridRow(t, t, 0) for t in self.task_ids if t not in covered]
        cells: CellStates = {}
        for run in self.runs:
            for row in rows:
                if row.group:
                    states = [self.cells.get((run.run_id, t)) for t in row.tasks]
                    cells[(run.run_id, row.id)] = group_state(states)
                elif (state := self.cells.get((run.run_id, row.id))) is not None:
                    cells[(run.run_id, row.id)] = state
        return Grid(self.runs, self.task_ids, cells, rows)


#: A group's summary state is the first of these any of its tasks has (Airflow's order).
_GROUP_PRECEDENCE = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "deferred",
    "running",
    "restarting",
    "none",
    "success",
    "skipped",
    "removed",
)


def group_state(states: Iterable[str | None]) -> str:
    """The summary state of a group whose tasks have `states` (None: no task instance)."""
    present = {s or "none" for s in states}
    for state in _GROUP_PRECEDENCE:
        if state in present:
            return state
    return next(iter(sorted(present)), "none")


def grid_rows(
    task_ids: Sequence[str],
    groups: Mapping[str, Mapping[str, object]],
    task_group: Mapping[str, str | None],
    expand: Collection[str],
) -> list[GridRow]:
    """The rows: `task_ids` (dependency order) arranged in their task groups.

    `groups`: the serialized DAG's `task_groups` (group id -> parent and children; the
    root group is ""); `task_group`: a task's group id. A group sits where its first task
    (in `task_ids`) would; its rows follow it when it is in `expand`.
    Tasks no group lists (a run's task the newest version dropped) come last, ungrouped.
    """
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    tasks_of: dict[str, list[str]] = {}
    for task_id in task_ids:
        group = task_group.get(task_id)
        seen: set[str] = set()
        while group and group in groups and group not in seen:
            seen.add(group)
            tasks_of.setdefault(group, []).append(task_id)
            parent = groups[group].get("parent")
            group = parent if isinstance(parent, str) else None

    def first(child: str) -> int:
        if child in position:
            return position[child]
        members = tasks_of.get(child)
        return min(position[t] for t in members) if members else len(position)

    rows: list[GridRow] = []
    placed: set[str] = set()

    def walk(group: str, depth: int, trail: frozenset[str]) -> None:
        children = groups.get(group, {}).get("children", ())
        if not isinstance(children, list | tuple):
            return
        for child in sorted((c for c in children if isinstance(c, str)), key=first):
            if child in position and child not in placed:
                placed.add(child)
                prefix = f"{group}." if group else ""
                label = child.removeprefix(prefix)
                rows.append(GridRow(child, label, depth))
            elif child in groups and child not in trail and tasks_of.get(child):
                open_ = child in expand
                prefix = f"{group}." if group else ""
                rows.append(
                    GridRow(
                        child,
                        child.removeprefix(prefix),
                        depth,
                        group=True,
                        expanded=open_,
                        tasks=tuple(tasks_of[child]),
                    )
                )
                if open_:
                    walk(child, depth + 1, trail | {child})
                else:
                    placed.update(tasks_of[child])

    if "" in groups:
        walk("", 0, frozenset({""}))
    rows += [GridRow(t, t, 0) for t in task_ids if t not in placed]
    return rows


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
