"""`/dags/{dag_id}/calendar`: a year of the DAG's runs, one square per day (UTC, by the
run's `run_after`), coloured by the states of that day's runs.

A day's colour (`day_state`) is the state a user most needs to see: `failed` if any run
failed, else `running`, else `queued`, else `success`. The runs are read through
`api_runs.list_dag_runs` (the API's query) for the year's range."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.auth import Permission
from airflow_sc.db.queries import api_runs
from airflow_sc.domain.listing import Listing, OrderField, Range
from airflow_sc.ui.access import context_of, page_requires
from airflow_sc.ui.dag_data import load_dag
from airflow_sc.ui.rendering import render
from airflow_sc.ui.session import Session

__all__ = ["CalendarDay", "build_calendar", "day_state", "router"]

router = APIRouter(include_in_schema=False)

_READ = page_requires(Permission.DAG_READ)

#: A day's colour: the first of these states that one of its runs is in.
_PRECEDENCE = ("failed", "running", "queued", "success")


def day_state(states: Counter[str]) -> str:
    for state in _PRECEDENCE:
        if states.get(state):
            return state
    return "none"


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    #: False for the days before Jan 1 / after Dec 31 that fill the first and last week.
    in_year: bool
    states: Counter[str] = field(default_factory=Counter)

    @property
    def state(self) -> str:
        return day_state(self.states)

    @property
    def title(self) -> str:
        total = sum(self.states.values())
        if not total:
            return f"{self.day.isoformat()}: no runs"
        each = ", ".join(f"{n} {s}" for s, n in sorted(self.states.items()))
        return f"{self.day.isoformat()}: {total} run{'s' if total != 1 else ''} ({each})"


def build_calendar(year: int, runs: Iterable[tuple[date, str]]) -> list[list[CalendarDay]]:
    """The year's weeks (Monday first), each a list of 7 days."""
    by_day: dict[date, Counter[str]] = {}
    for day, state in runs:
        by_day.setdefault(day, Counter())[state] += 1
    first = date(year, 1, 1)
    start = first - timedelta(days=first.weekday())
    weeks: list[list[CalendarDay]] = []
    day = start
    while day.year <= year:
        week = []
        for _ in range(7):
            week.append(CalendarDay(day, day.year == year, by_day.get(day, Counter())))
            day += timedelta(days=1)
        weeks.append(week)
    return weeks


@router.get("/dags/{dag_id}/calendar")
async def calendar_page(
    request: Request,
    dag_id: str,
    session: Annotated[Session, Depends(_READ)],
    year: Annotated[int | None, Query(ge=1970, le=9999)] = None,
) -> Response:
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None:
        return render(
            "message.html",
            {"session": session, "title": "DAG not found", "message": f"No DAG {dag_id!r}."},
            status_code=404,
        )
    shown = year if year is not None else ctx.clock().year
    begin = datetime.combine(date(shown, 1, 1), time(), tzinfo=UTC)
    page = await api_runs.list_dag_runs(
        ctx.db,
        api_runs.DagRunFilter(
            dag_ids=[dag_id], run_after=Range(gte=begin, lt=begin.replace(year=shown + 1))
        ),
        Listing((OrderField("run_after"),), limit=None),
    )
    runs = ((r.run_after.astimezone(UTC).date(), r.state) for r in page.items)
    return render(
        "calendar.html",
        {
            "session": session,
            "tab": "calendar",
            "can_edit": session.may(Permission.DAG_EDIT),
            "dag": view.row,
            "spec": view.spec,
            "year": shown,
            "weeks": build_calendar(shown, runs),
            "total": page.total,
        },
    )
