"""`/dags`: the DAG list (search, tag and active/paused filters in the query string, recent
runs, next run, schedule, pause toggle), and `/import-errors`.

The rows come from the same queries as `GET /api/v2/dags` and `/importErrors`
(`db/queries/api_dags.py`), with the same filter vocabulary: the search box is
`dag_id_pattern` (case-insensitive substring; `%` and `_` are wildcards).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_sc.actions import DagNotFound, set_dag_paused
from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_dags, api_runs
from airflow_sc.domain.listing import Listing, NamePattern, OrderField
from airflow_sc.ui.access import checked_form, context_of, first, page_requires, safe_next
from airflow_sc.ui.rendering import render, with_security_headers
from airflow_sc.ui.session import Session

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: Runs shown as state bars beside each DAG.
RECENT_RUNS = 10

_READ = page_requires(Permission.DAG_READ)
_EDIT = page_requires(Permission.DAG_EDIT)


@dataclass(frozen=True, slots=True)
class DagListFilters:
    """The list's filters, as they appear in the page's URL."""

    search: str
    tags: tuple[str, ...]
    state: Literal["all", "active", "paused"]
    offset: int

    def dag_filter(self) -> api_dags.DagFilter:
        paused = {"all": None, "active": False, "paused": True}[self.state]
        return api_dags.DagFilter(
            dag_id=NamePattern(self.search or None), tags=self.tags, paused=paused
        )

    def url(self, **changes: object) -> str:
        values: dict[str, object] = {
            "search": self.search,
            "tags": list(self.tags),
            "state": self.state,
            "offset": self.offset,
        }
        values.update(changes)
        query = [
            (name, item)
            for name, value in values.items()
            for item in (value if isinstance(value, list) else [value])
            if item not in ("", 0, "all")
        ]
        return "/dags" + (f"?{urlencode(query)}" if query else "")


async def import_error_count(request: Request) -> int:
    ctx = context_of(request)
    page = await api_dags.list_import_errors(ctx.db, api_dags.ImportErrorFilter(), Listing(limit=0))
    return page.total


@router.get("/")
async def home() -> Response:
    return with_security_headers(RedirectResponse("/dags", status_code=303))


@router.get("/dags")
async def dag_list(
    request: Request,
    session: Annotated[Session, Depends(_READ)],
    search: Annotated[str, Query(max_length=200)] = "",
    tags: Annotated[list[str] | None, Query()] = None,
    state: Annotated[Literal["all", "active", "paused"], Query()] = "all",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    ctx = context_of(request)
    filters = DagListFilters(search.strip(), tuple(tags or ()), state, offset)
    listing = Listing((OrderField("dag_id"),), PAGE_SIZE, offset)
    page = await api_dags.list_dags(ctx.db, filters.dag_filter(), listing)
    dag_ids = [row.dag_id for row in page.items]
    recent = await api_runs.recent_runs_of_dags(ctx.db, dag_ids, RECENT_RUNS)
    all_tags = await api_dags.list_dag_tags(ctx.db, NamePattern(), Listing(limit=None))
    return render(
        "dag_list.html",
        {
            "session": session,
            "can_edit": session.may(Permission.DAG_EDIT),
            "filters": filters,
            "dags": page.items,
            "total": page.total,
            "recent": {dag_id: list(reversed(runs)) for dag_id, runs in recent.items()},
            "all_tags": all_tags.items,
            "import_errors": await import_error_count(request),
            "page_size": PAGE_SIZE,
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


@router.post("/dags/{dag_id}/pause")
async def toggle_pause(
    request: Request, dag_id: str, session: Annotated[Session, Depends(_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    paused = first(form, "is_paused") == "true"
    ctx = context_of(request)
    try:
        await set_dag_paused(ctx.db, dag_id, paused, wake=ctx.wake)
    except DagNotFound:
        return render(
            "message.html",
            {"session": session, "title": "DAG not found", "message": f"No DAG {dag_id!r}."},
            status_code=404,
        )
    return with_security_headers(RedirectResponse(safe_next(first(form, "next")), 303))


@router.get("/import-errors")
async def import_errors(request: Request, session: Annotated[Session, Depends(_READ)]) -> Response:
    ctx = context_of(request)
    page = await api_dags.list_import_errors(
        ctx.db, api_dags.ImportErrorFilter(), Listing((OrderField("filename"),), limit=None)
    )
    return render("import_errors.html", {"session": session, "errors": page.items})
