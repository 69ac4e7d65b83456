"""The DAG page's other tabs: Graph (`/dags/{dag_id}/graph`), Runs (`/runs`), Code
(`/code`) and Details (`/details`). Each reads through the API's query functions, with a
fixed number of queries whatever the DAG's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_runs
from airflow_sc.domain.listing import Listing, OrderField
from airflow_sc.domain.states import DagRunState
from airflow_sc.sdk.params import NOTSET, Param
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.dag_data import DEFAULT_RUNS, DagView, load_dag, load_run_grid
from airflow_sc.ui.dag_page import Expand
from airflow_sc.ui.graph import collapse_groups, layout_graph
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)

RUNS_PAGE_SIZE = 50
RUN_STATES = tuple(s.value for s in DagRunState)
#: The run types Airflow 3 has (`DagRunType`).
RUN_TYPES = ("manual", "scheduled", "backfill", "asset_triggered")


def _missing(session: Session, dag_id: str) -> Response:
    return render(
        "message.html",
        {"session": session, "title": "DAG not found", "message": f"No DAG {dag_id!r}."},
        status_code=404,
    )


def _common(session: Session, view: DagView, tab: str) -> dict[str, Any]:
    return {
        "session": session,
        "tab": tab,
        "can_edit": session.may(Permission.DAG_EDIT),
        "dag": view.row,
        "spec": view.spec,
    }


@router.get("/dags/{dag_id}/graph")
async def graph_page(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    run_id: str | None = None,
    expand: Expand = None,
) -> Response:
    """The DAG's tasks and dependencies, coloured by the states of run `run_id`, following
    that run live; without `run_id`, the newest run, switching to a newer one when it is
    created (the stream of the one-run Grid of the newest run)."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    spec = view.spec
    upstream = {} if spec is None else spec.upstream_task_ids
    labels: dict[tuple[str, str], str] = {}
    if spec is not None:
        for key, info in spec.edge_info.items():
            up, _, down = key.partition(">>")
            if isinstance(info, dict) and info.get("label"):
                labels[(up, down)] = str(info["label"])
    expand = expand or []
    rows = view.rows(expand)
    nodes, node_upstream, node_labels = collapse_groups(rows, upstream, labels)
    layout = layout_graph(nodes, node_upstream, node_labels)
    newest = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(dag_ids=[dag_id]),
        Listing((OrderField("run_after", descending=True),), DEFAULT_RUNS),
    )
    runs = newest.items
    chosen: api_runs.DagRunRow | str | None = None
    if run_id is not None:
        chosen = next((r for r in runs if r.run_id == run_id), run_id)
    elif runs:
        chosen = runs[0]
    grid = None
    if chosen is not None:
        grid = (await load_run_grid(ctx, dag_id, view.task_ids, chosen)).shown(rows)
    run = grid.runs[0] if grid is not None and grid.runs else None
    if run_id is not None and run is None:
        return render(
            "message.html",
            {"session": session, "title": "Run not found", "message": f"No run {run_id!r}."},
            status_code=404,
        )
    return render(
        "graph.html",
        _common(session, view, "graph")
        | {
            "layout": layout,
            "runs": runs,
            "run": run,
            "grid": grid,
            "follow_newest": run_id is None,
            "expand": expand,
            "groups": {r.id: r for r in rows if r.group},
        },
    )


@dataclass(frozen=True, slots=True)
class RunFilters:
    state: str
    run_type: str
    offset: int

    def url(self, dag_id: str, **changes: object) -> str:
        values: dict[str, object] = {
            "state": self.state,
            "run_type": self.run_type,
            "offset": self.offset,
        }
        values.update(changes)
        query = [(k, v) for k, v in values.items() if v not in ("", 0)]
        return f"/dags/{quote(dag_id, safe='')}/runs" + (f"?{urlencode(query)}" if query else "")


@router.get("/dags/{dag_id}/runs")
async def runs_page(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    state: Annotated[Literal["", *RUN_STATES], Query()] = "",  # type: ignore[valid-type]
    run_type: Annotated[Literal["", *RUN_TYPES], Query()] = "",  # type: ignore[valid-type]
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The DAG's runs, newest first, 50 a page, filtered by state and run type."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    filters = RunFilters(state, run_type, offset)
    page = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(
            dag_ids=[dag_id],
            states=[state] if state else None,
            run_types=[run_type] if run_type else None,
        ),
        Listing((OrderField("run_after", descending=True),), RUNS_PAGE_SIZE, offset),
    )
    return render(
        "runs.html",
        _common(session, view, "runs")
        | {
            "runs": page.items,
            "total": page.total,
            "filters": filters,
            "states": RUN_STATES,
            "run_types": RUN_TYPES,
            "page_size": RUNS_PAGE_SIZE,
        },
    )


@router.get("/dags/{dag_id}/code")
async def code_page(
    request: Request, dag_id: str, session: Annotated[Session, Depends(_READ)]
) -> Response:
    """The source of the file that defines the DAG, as `GET /api/v2/dagSources` reads it."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    content: str | None = None
    if view.row.fileloc:
        try:
            content = await anyio.Path(view.row.fileloc).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            content = None
    return render("code.html", _common(session, view, "code") | {"content": content})


@router.get("/dags/{dag_id}/details")
async def details_page(
    request: Request, dag_id: str, session: Annotated[Session, Depends(_READ)]
) -> Response:
    """The DAG's arguments (from its newest serialized version) and its params (with the
    masker's redaction of sensitive names, as the API's conf)."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    spec = view.spec
    params: list[tuple[str, str, str]] = []
    for name, dumped in ({} if spec is None else spec.params).items():
        param = Param.load(dumped)
        if param.value is NOTSET:
            shown = "(no default: required)"
        elif ctx.masker.is_sensitive_key(name):
            shown = "***"
        else:
            shown = json.dumps(param.value, default=str)
        schema = {k: v for k, v in param.schema.items() if k != "description"}
        about = " ".join(filter(None, [param.description, _schema(schema)]))
        params.append((name, shown, about))
    return render("details.html", _common(session, view, "details") | {"params": params})


def _schema(schema: object) -> str:
    if not isinstance(schema, dict) or not schema:
        return ""
    return "schema: " + json.dumps(schema, default=str, sort_keys=True)
