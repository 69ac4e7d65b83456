"""`/dags/{dag_id}`: the DAG page with its Grid and the task instance panel, the Grid alone
(`/grid`, which the page fetches when runs are added) and the Grid's live stream
(`/events`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.auth import Permission
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.dag_data import (
    DEFAULT_RUNS,
    MAX_RUNS,
    load_dag,
    load_grid,
    load_panel,
    load_run_grid,
)
from airflow_sc.ui.grid import Grid
from airflow_sc.ui.health import page_health
from airflow_sc.ui.live import GridStream
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session
from airflow_sc.ui.task_actions_plan import TaskActionPreview

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)

Runs = Annotated[int, Query(ge=1, le=MAX_RUNS)]
#: The task groups the Grid shows open (repeatable); the others are collapsed.
Expand = Annotated[list[str] | None, Query(max_length=1000)]


def _missing(session: Session, dag_id: str) -> Response:
    return render(
        "message.html",
        {"session": session, "title": "DAG not found", "message": f"No DAG {dag_id!r}."},
        status_code=404,
    )


async def render_dag_page(
    request: Request,
    session: Session,
    dag_id: str,
    *,
    runs: int = DEFAULT_RUNS,
    expand: list[str] | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    try_number: int | None = None,
    preview: TaskActionPreview | None = None,
    status_code: int = 200,
) -> Response:
    """The DAG page, with the task instance panel when `run_id` and `task_id` are given
    (and what a task action would change, `preview`)."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    expand = expand or []
    grid = await load_grid(ctx, dag_id, view.task_ids, runs, view.rows(expand))
    panel = None
    if run_id is not None and task_id is not None:
        panel = await load_panel(ctx, dag_id, run_id, task_id, try_number)
    return render(
        "dag.html",
        {
            "tab": "grid",
            "session": session,
            "can_edit": session.may(Permission.DAG_EDIT),
            "dag": view.row,
            "spec": view.spec,
            "grid": grid,
            "runs": runs,
            "expand": expand,
            "panel": panel,
            "preview": preview,
            "selected": (run_id, task_id),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        },
        status_code=status_code,
    )


@router.get("/dags/{dag_id}")
async def dag_page(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    runs: Runs = DEFAULT_RUNS,
    expand: Expand = None,
    run_id: str | None = None,
    task_id: str | None = None,
    try_number: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    return await render_dag_page(
        request,
        session,
        dag_id,
        runs=runs,
        expand=expand,
        run_id=run_id,
        task_id=task_id,
        try_number=try_number,
    )


@router.get("/dags/{dag_id}/grid")
async def grid_fragment(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    runs: Runs = DEFAULT_RUNS,
    expand: Expand = None,
) -> Response:
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    expand = expand or []
    grid = await load_grid(ctx, dag_id, view.task_ids, runs, view.rows(expand))
    return render(
        "grid.html",
        {
            "dag": view.row,
            "grid": grid,
            "runs": runs,
            "expand": expand,
            "selected": (None, None),
        },
    )


@router.get("/dags/{dag_id}/events")
async def grid_events(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    runs: Runs = DEFAULT_RUNS,
    expand: Expand = None,
    run_id: str | None = None,
) -> Response:
    """The Grid's changes (the newest `runs` runs, the rows `expand` shows), or those of
    run `run_id` alone (the Graph's)."""
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return _missing(session, dag_id)
    task_ids = view.task_ids
    rows = view.rows(expand or [])

    async def look() -> Grid:
        if run_id is not None:
            return await load_run_grid(ctx, dag_id, task_ids, run_id)
        return await load_grid(ctx, dag_id, task_ids, runs, rows)

    return GridStream(
        look,
        request.app.state.changes,
        ctx.shutdown,
        health=lambda: page_health(ctx),
    )
