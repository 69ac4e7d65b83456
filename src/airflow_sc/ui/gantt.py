"""`/dags/{dag_id}/gantt`: one run's task instances as bars on a time axis, each from its
start to its end (to now while it runs), with the time it waited in the queue before it
as a lighter bar. The page follows the run through the DAG page's event stream and reads
its bars again (`/dags/{dag_id}/gantt/bars`) when the run's states change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_runs, api_task_instances
from airflow_sc.domain.listing import Listing, OrderField
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.dag_data import load_dag
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session

__all__ = ["GanttBar", "gantt_bars", "router"]

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)


@dataclass(frozen=True, slots=True)
class GanttBar:
    task_id: str
    state: str
    #: Percentages of the chart's width: where the queued part starts, where the run part
    #: starts, and where it ends.
    queued_at: float | None
    start: float
    end: float
    #: Seconds queued and run (to now for a running one).
    queued_seconds: float | None
    run_seconds: float


def gantt_bars(
    rows: Sequence[tuple[str, str | None, datetime | None, datetime | None, datetime | None]],
    now: datetime,
) -> tuple[list[GanttBar], datetime | None, datetime | None]:
    """Bars of (task_id, state, queued, start, end) rows, in the given order, for the rows
    that started; and the chart's first and last instant."""
    started = [r for r in rows if r[3] is not None]
    if not started:
        return [], None, None
    first = min(min(q for q in (r[2], r[3]) if q is not None) for r in started)
    last = max((r[4] or now) for r in started)
    span = max((last - first).total_seconds(), 1e-6)

    def at(moment: datetime) -> float:
        return round(100 * (moment - first).total_seconds() / span, 3)

    bars = []
    for task_id, state, queued, start, end in started:
        assert start is not None
        finish = end or now
        waited = queued if queued is not None and queued <= start else None
        bars.append(
            GanttBar(
                task_id,
                state or "none",
                at(waited) if waited else None,
                at(start),
                at(finish),
                (start - waited).total_seconds() if waited else None,
                (finish - start).total_seconds(),
            )
        )
    return bars, first, last


async def _load(request: Request, dag_id: str, run_id: str | None) -> dict[str, object] | None:
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return None
    runs = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(dag_ids=[dag_id]),
        Listing((OrderField("run_after", descending=True),), 25),
    )
    run = next((r for r in runs.items if r.run_id == run_id), None) if run_id else None
    if run is None and run_id:
        run = await api_runs.get_dag_run(ctx.db, dag_id, run_id)
        if run is None:
            return None
    if run is None and runs.items:
        run = runs.items[0]
    bars: list[GanttBar] = []
    first = last = None
    if run is not None:
        tis = await api_task_instances.list_task_instances(
            ctx.db,
            api_task_instances.TaskInstanceFilter(dag_ids=[dag_id], run_ids=[run.run_id]),
            Listing((OrderField("start_date"),), limit=None),
        )
        order = {t: i for i, t in enumerate(view.task_ids)}
        rows = sorted(
            (
                (t.task_id, t.state, t.queued_dttm, t.start_date, t.end_date)
                for t in tis.items
                if t.map_index == -1
            ),
            key=lambda r: (r[3] or ctx.clock(), order.get(r[0], len(order))),
        )
        bars, first, last = gantt_bars(rows, ctx.clock())
    return {
        "view": view,
        "dag_id": dag_id,
        "runs": runs.items,
        "run": run,
        "bars": bars,
        "first": first,
        "last": last,
    }


@router.get("/dags/{dag_id}/gantt")
async def gantt_page(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    run_id: str | None = None,
) -> Response:
    data = await _load(request, dag_id, run_id)
    if data is None:
        return render(
            "message.html",
            {"session": session, "title": "Not found", "message": "No such DAG or run."},
            status_code=404,
        )
    view = data.pop("view")
    return render(
        "gantt.html",
        {
            "session": session,
            "tab": "gantt",
            "can_edit": session.may(Permission.DAG_EDIT),
            "dag": view.row,  # type: ignore[attr-defined]
            "spec": view.spec,  # type: ignore[attr-defined]
            **data,
        },
    )


@router.get("/dags/{dag_id}/gantt/bars")
async def gantt_fragment(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    run_id: str,
) -> Response:
    data = await _load(request, dag_id, run_id)
    if data is None:
        return render(
            "message.html",
            {"session": session, "title": "Not found", "message": "No such DAG or run."},
            status_code=404,
        )
    data.pop("view")
    return render("gantt_bars.html", data)
