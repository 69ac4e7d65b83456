"""`/dag-runs` and `/task-instances`: the runs and task instances of every DAG, newest run
first, filtered in the query string.

Read through the same queries as `GET /api/v2/dags/~/dagRuns` (`api_runs.list_dag_runs`)
and `GET /api/v2/dags/~/dagRuns/~/taskInstances` (`api_task_instances.list_task_instances`):
`dag_id` is the API's `dag_id_pattern` and `task_id` its `task_display_name_pattern`
(case-insensitive substring, `%` and `_` wildcards), `state` and `run_type` one value
each, `start` and `end` a range of the run's `run_after` dates (UTC days, both
included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_runs, api_task_instances
from airflow_sc.domain.listing import Listing, NamePattern, OrderField, Range
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.dag_views import RUN_STATES, RUN_TYPES
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session

__all__ = ["BROWSE_PAGE_SIZE", "TI_STATES", "RunBrowseFilters", "router"]

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)

BROWSE_PAGE_SIZE = 50
#: A task instance's states; "none" is a task instance without one yet.
TI_STATES = ("none", *(s.value for s in TaskInstanceState))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RunBrowseFilters:
    """The filters of either page; `run_type` is the runs page's, `task_id` the task
    instances page's."""

    path: str
    dag_id: str
    state: str
    run_type: str
    task_id: str
    start: date | None
    end: date | None
    offset: int

    @property
    def any(self) -> bool:
        given = (self.dag_id, self.state, self.run_type, self.task_id, self.start, self.end)
        return any(given)

    def run_after(self) -> Range[datetime]:
        return Range(
            gte=_day_start(self.start) if self.start else None,
            lt=_day_start(self.end + timedelta(days=1)) if self.end else None,
        )

    def url(self, *, offset: int) -> str:
        query = {
            "dag_id": self.dag_id,
            "state": self.state,
            "run_type": self.run_type,
            "task_id": self.task_id,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
        }
        shown = {k: v for k, v in query.items() if v}
        if offset:
            shown["offset"] = str(offset)
        return self.path + ("?" + urlencode(shown) if shown else "")


@router.get("/dag-runs")
async def browse_runs(
    request: Request,
    session: Annotated[Session, Depends(_READ)],
    dag_id: str = "",
    state: Annotated[Literal["", *RUN_STATES], Query()] = "",  # type: ignore[valid-type]
    run_type: Annotated[Literal["", *RUN_TYPES], Query()] = "",  # type: ignore[valid-type]
    start: Annotated[date | Literal[""], Query()] = "",
    end: Annotated[date | Literal[""], Query()] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every DAG's runs, newest first, 50 a page."""
    ctx = context_of(request)
    filters = RunBrowseFilters(
        "/dag-runs", dag_id.strip(), state, run_type, "", start or None, end or None, offset
    )
    page = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(
            dag_id_pattern=NamePattern(filters.dag_id or None),
            states=[state] if state else None,
            run_types=[run_type] if run_type else None,
            run_after=filters.run_after(),
        ),
        Listing((OrderField("run_after", descending=True),), BROWSE_PAGE_SIZE, offset),
    )
    return render(
        "browse_runs.html",
        {
            "session": session,
            "runs": page.items,
            "total": page.total,
            "filters": filters,
            "states": RUN_STATES,
            "run_types": RUN_TYPES,
            "page_size": BROWSE_PAGE_SIZE,
        },
    )


@router.get("/task-instances")
async def browse_task_instances(
    request: Request,
    session: Annotated[Session, Depends(_READ)],
    dag_id: str = "",
    task_id: str = "",
    state: Annotated[Literal["", *TI_STATES], Query()] = "",  # type: ignore[valid-type]
    start: Annotated[date | Literal[""], Query()] = "",
    end: Annotated[date | Literal[""], Query()] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every DAG's task instances, newest run first, 50 a page."""
    ctx = context_of(request)
    filters = RunBrowseFilters(
        "/task-instances",
        dag_id.strip(),
        state,
        "",
        task_id.strip(),
        start or None,
        end or None,
        offset,
    )
    page = await api_task_instances.list_task_instances(
        ctx.db,
        api_task_instances.TaskInstanceFilter(
            dag_id_pattern=NamePattern(filters.dag_id or None),
            task_display_name_pattern=NamePattern(filters.task_id or None),
            states=[None if state == "none" else state] if state else None,
            run_after=filters.run_after(),
        ),
        Listing((OrderField("run_after", descending=True),), BROWSE_PAGE_SIZE, offset),
    )
    return render(
        "browse_task_instances.html",
        {
            "session": session,
            "tis": page.items,
            "total": page.total,
            "filters": filters,
            "states": TI_STATES,
            "page_size": BROWSE_PAGE_SIZE,
        },
    )
