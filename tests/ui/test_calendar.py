"""The calendar: a year of days coloured by their runs' states."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest

from airflow_sc.auth import Role
from airflow_sc.ui.calendar import build_calendar, day_state
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs
from tests.ui.conftest import UiServer
from tests.ui.test_pages import seeded, signed_in

__all__ = ["seeded"]  # the fixture, imported


def test_a_day_shows_its_most_urgent_state() -> None:
    assert day_state(Counter({"success": 3, "failed": 1})) == "failed"
    assert day_state(Counter({"success": 3, "running": 1})) == "running"
    assert day_state(Counter({"success": 2, "queued": 1})) == "queued"
    assert day_state(Counter({"success": 2})) == "success"
    assert day_state(Counter()) == "none"


def test_the_year_is_whole_weeks_monday_first() -> None:
    weeks = build_calendar(2026, [(date(2026, 3, 2), "success"), (date(2026, 3, 2), "failed")])
    assert all(len(week) == 7 for week in weeks)
    days = [d for week in weeks for d in week]
    assert days[0].day == date(2025, 12, 29)  # the Monday before Thursday Jan 1
    assert not days[0].in_year
    shown = [d.day for d in days if d.in_year]
    assert shown[0] == date(2026, 1, 1)
    assert shown[-1] == date(2026, 12, 31)
    assert len(shown) == 365
    march_2 = next(d for d in days if d.day == date(2026, 3, 2))
    assert march_2.state == "failed"
    assert march_2.title == "2026-03-02: 2 runs (1 failed, 1 success)"


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_the_calendar_page_colours_the_days_of_the_runs(seeded: UiServer) -> None:
    now = seeded.clock()
    await add_runs(seeded.db, "etl_daily", ["success", "failed"], now=now)
    await add_runs(seeded.db, "etl_hourly", ["running"], now=now + timedelta(days=1))
    async with signed_in(seeded, Role.VIEWER) as http:
        page = await http.get("/dags/etl_daily/calendar")
        other_year = await http.get("/dags/etl_daily/calendar", params={"year": now.year + 1})
        missing = await http.get("/dags/nope/calendar")
        bad = await http.get("/dags/etl_daily/calendar", params={"year": "soon"})
    assert page.status_code == 200
    days = dict(re.findall(r'data-day="([\d-]+)" data-state="(\w+)"', page.text))
    assert len(days) in (365, 366)
    today = now.date().isoformat()
    assert days[today] == "failed"  # a success and a failure that day
    assert days[(now.date() + timedelta(days=1)).isoformat()] == "none"  # another DAG's run
    assert f'title="{today}: 2 runs (1 failed, 1 success)"' in page.text
    assert f"2 runs in {now.year}" in page.text
    assert 'aria-current="page">Calendar</a>' in page.text
    assert other_year.status_code == 200
    assert "0 runs in" in other_year.text
    assert missing.status_code == 404
    assert bad.status_code == 422
