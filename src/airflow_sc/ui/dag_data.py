"""What the DAG page reads: the DAG and its newest version, the Grid, a task instance's
tries and log. Each read goes through the API's query functions (`db/queries/api_*.py`)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_sc.api.context import ApiContext
from airflow_sc.db.queries import api_dags, api_runs, api_task_instances, api_xcom
from airflow_sc.domain.listing import Listing, OrderField
from airflow_sc.serialization import DagSpec, SerializationError
from airflow_sc.ui.grid import (
    Grid,
    GridRow,
    GridRun,
    build_grid,
    grid_rows,
    task_order,
)
from airflow_sc.ui.task_logs import LogView, load_log_view

__all__ = [
    "DagView",
    "TaskInstancePanel",
    "load_dag",
    "load_grid",
    "load_panel",
    "load_run_grid",
]

#: Runs the Grid shows by default, and at most.
DEFAULT_RUNS = 25
MAX_RUNS = 100


@dataclass(frozen=True, slots=True)
class DagView:
    row: api_dags.DagRow
    spec: DagSpec | None
    task_ids: list[str]
    #: The serialized task groups (group id -> parent, children; root "") and each
    #: task's group.
    groups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    task_group: Mapping[str, str | None] = field(default_factory=dict)

    def rows(self, expand: Collection[str]) -> list[GridRow]:
        """The Grid's rows with the groups `expand` names open (the rest collapsed)."""
        return grid_rows(self.task_ids, self.groups, self.task_group, expand)


@dataclass(frozen=True, slots=True)
class TaskInstancePanel:
    run_id: str
    task_id: str
    tries: list[api_task_instances.TaskInstanceTryRow]
    try_number: int
    log: LogView
    #: The run's conf as JSON, sensitive members masked as the API masks them.
    conf: str
    #: (key, value as JSON) of the task instance's XCom entries, as `GET .../xcomEntries/
    #: {key}` returns them; None when the chosen try is not the latest (a new try starts
    #: with its XCom cleared, so an older try's entries are not kept).
    xcoms: list[tuple[str, str]] | None = None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the pages make of one serialized DAG version (kept while it is the newest)."""

    spec: DagSpec | None
    task_ids: list[str]
    groups: Mapping[str, Mapping[str, Any]]
    task_group: Mapping[str, str | None]


#: Recently shown DAG versions, by (dag_id, version key): a page of a 5,000-task DAG then
#: costs one small query instead of decoding and ordering the DAG again.
_SHAPES: OrderedDict[tuple[str, str], _Shape] = OrderedDict()
_SHAPES_KEPT = 32


def _shape(data: dict[str, Any] | None) -> _Shape:
    spec: DagSpec | None = None
    if data is not None:
        try:
            spec = DagSpec.from_dict(data)
        except SerializationError:
            spec = None
    if spec is None:
        return _Shape(None, [], {}, {})
    task_ids = task_order(list(spec.tasks), spec.upstream_task_ids)
    groups = _groups(spec.task_groups)
    task_group: dict[str, str | None] = {}
    for group_id, group in groups.items():
        for child in group.get("children", ()):
            if child in spec.tasks:
                task_group[child] = group_id or None
    return _Shape(spec, task_ids, groups, task_group)


async def load_dag(ctx: ApiContext, dag_id: str) -> DagView | None:
    found = await api_dags.newest_serialized_dag(ctx.db, dag_id, with_data=False)
    if found is None:
        return None
    row, key, _ = found
    shape = None if key is None else _SHAPES.get((dag_id, key))
    if shape is not None and key is not None:
        _SHAPES.move_to_end((dag_id, key))
    else:
        found = await api_dags.newest_serialized_dag(ctx.db, dag_id, with_data=True)
        if found is None:
            return None
        row, key, data = found
        shape = _shape(data)
        if key is not None:
            _SHAPES[(dag_id, key)] = shape
            while len(_SHAPES) > _SHAPES_KEPT:
                _SHAPES.popitem(last=False)
    return DagView(row, shape.spec, shape.task_ids, shape.groups, shape.task_group)


def _groups(stored: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The stored groups that have the expected shape (others are left out)."""
    return {
        group_id: group
        for group_id, group in stored.items()
        if isinstance(group_id, str)
        and isinstance(group, Mapping)
        and isinstance(group.get("children", []), list)
    }


async def load_grid(
    ctx: ApiContext,
    dag_id: str,
    task_ids: list[str],
    runs: int,
    rows: list[GridRow] | None = None,
) -> Grid:
    """The newest `runs` runs by `task_ids`; with `rows`, only the cells of those rows (a
    collapsed group's its summary)."""
    newest = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(dag_ids=[dag_id]),
        Listing((OrderField("run_after", descending=True),), runs),
    )
    grid_runs = [GridRun(r.id, r.run_id, r.state, r.run_after) for r in newest.items]
    run_ids = [r.run_id for r in grid_runs]
    states = (
        await api_task_instances.task_instance_states(ctx.db, dag_id, run_ids) if grid_runs else []
    )
    grid = build_grid(grid_runs, task_ids, states)
    return grid if rows is None else grid.shown(rows)


async def load_run_grid(
    ctx: ApiContext, dag_id: str, task_ids: list[str], run: api_runs.DagRunRow | str
) -> Grid:
    """The Grid of one run (`run`, or its run id): the Graph's states."""
    found = await api_runs.get_dag_run(ctx.db, dag_id, run) if isinstance(run, str) else run
    if found is None:
        return build_grid([], task_ids, [])
    tis = await api_task_instances.list_task_instances(
        ctx.db,
        api_task_instances.TaskInstanceFilter(
            dag_ids=[dag_id], run_ids=[found.run_id], map_indexes=[-1]
        ),
        Listing(limit=None),
    )
    grid_run = GridRun(found.id, found.run_id, found.state, found.run_after)
    return build_grid([grid_run], task_ids, ((t.run_id, t.task_id, t.state) for t in tis.items))


async def load_panel(
    ctx: ApiContext, dag_id: str, run_id: str, task_id: str, try_number: int | None
) -> TaskInstancePanel | None:
    tries = await api_task_instances.list_task_instance_tries(ctx.db, dag_id, run_id, task_id)
    if not tries:
        return None
    numbers = [t.try_number for t in tries]
    chosen = try_number if try_number in numbers else numbers[-1]
    log = await load_log_view(ctx, dag_id, tries, chosen)
    run = await api_runs.get_dag_run(ctx.db, dag_id, run_id)
    conf = json.dumps(ctx.masker.redact(run.conf or {}) if run else {}, indent=2, default=str)
    xcoms = None
    if chosen == numbers[-1]:
        xcoms = await _load_xcoms(ctx, dag_id, run_id, task_id)
    return TaskInstancePanel(run_id, task_id, tries, chosen, log, conf, xcoms)


#: XCom entries the panel shows at most.
MAX_XCOMS = 50


async def _load_xcoms(
    ctx: ApiContext, dag_id: str, run_id: str, task_id: str
) -> list[tuple[str, str]]:
    where = api_xcom.XComFilter(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1)
    page = await api_xcom.list_xcoms(ctx.db, where, Listing((OrderField("key"),), MAX_XCOMS))
    shown = []
    for entry in page.items:
        row = await api_xcom.get_xcom(ctx.db, dag_id, run_id, task_id, entry.key)
        if row is not None:
            shown.append((row.key, json.dumps(row.value, indent=2, default=str)))
    return shown
