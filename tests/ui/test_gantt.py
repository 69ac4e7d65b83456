"""The Gantt of one run: bars from each task instance's queued, start and end times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from airflow_sc.auth import Role
from airflow_sc.ui.gantt import gantt_bars
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs
from tests.api.test_dag_runs_rows import add_ti
from tests.ui.conftest import UiServer
from tests.ui.test_pages import seeded, signed_in

__all__ = ["seeded"]  # the fixture, imported

T = datetime(2026, 12, 8, 12, tzinfo=UTC)


def test_bars_span_the_run_queued_time_before_each() -> None:
    s = timedelta(seconds=1)
    bars, first, last = gantt_bars(
        [
            ("a", "success", T, T + 10 * s, T + 30 * s),
            ("b", "running", T + 30 * s, T + 40 * s, None),
            ("c", None, None, None, None),  # not started: no bar
        ],
        now=T + 50 * s,
    )
    assert (first, last) == (T, T + 50 * s)
    assert [b.task_id for b in bars] == ["a", "b"]
    a, b = bars
    assert (a.queued_at, a.start, a.end) == (0, 20, 60)
    assert (a.queued_seconds, a.run_seconds) == (10, 20)
    assert (b.queued_at, b.start, b.end) == (60, 80, 100)  # running: to now
    assert b.run_seconds == 10
    assert gantt_bars([("c", None, None, None, None)], now=T) == ([], None, None)


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_the_gantt_page_shows_the_chosen_run(seeded: UiServer) -> None:
    await add_runs(seeded.db, "etl_daily", ["success", "running"], now=seeded.clock())
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="success")
    await add_ti(seeded.db, "etl_daily", "manual__0", "load", state="failed")
    async with signed_in(seeded, Role.VIEWER) as http:
        newest = await http.get("/dags/etl_daily/gantt")
        chosen = await http.get("/dags/etl_daily/gantt", params={"run_id": "manual__0"})
        bars = await http.get("/dags/etl_daily/gantt/bars", params={"run_id": "manual__0"})
        missing = await http.get("/dags/etl_daily/gantt", params={"run_id": "nope"})
    assert newest.status_code == 200
    assert "No task instance of this run has started." in newest.text  # manual__1
    rows = re.findall(r'<tr class="gantt-row" data-task="(\w+)" data-state="(\w+)"', chosen.text)
    assert sorted(rows) == [("extract", "success"), ("load", "failed")]
    assert 'aria-current="page">Gantt</a>' in chosen.text
    assert 'src="/ui-static/gantt.js"' in chosen.text
    assert bars.text.startswith('<div id="gantt-bars"')
    assert 'href="/dags/etl_daily?run_id=manual__0&amp;task_id=load#panel"' in bars.text
    assert missing.status_code == 404
