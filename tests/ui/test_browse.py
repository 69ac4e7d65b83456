"""`/dag-runs`: every DAG's runs with filters in the query string, paged."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from airflow_sc.auth import Role
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs
from tests.api.test_dag_runs_rows import add_ti
from tests.ui.conftest import UiServer
from tests.ui.test_pages import seeded, signed_in

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

__all__ = ["seeded"]  # the fixture, imported

PAYLOAD = '"><script>window.__xss=1</script>'


async def test_runs_of_every_dag_filtered_and_paged(seeded: UiServer) -> None:
    now = seeded.clock()
    await add_runs(seeded.db, "etl_daily", ["success", "failed"] * 30, now=now)
    await add_runs(seeded.db, "report", ["running"], now=now + timedelta(days=2))
    async with signed_in(seeded, Role.VIEWER) as http:

        async def shown(**params: object) -> tuple[list[tuple[str, str]], str]:
            answer = await http.get("/dag-runs", params=params)
            assert answer.status_code == 200
            rows = re.findall(
                r'<tr class="run-row" data-dag-id="([^"]+)" data-run-id="([^"]+)"', answer.text
            )
            return rows, answer.text

        first, page = await shown()
        assert len(first) == 50
        assert first[0] == ("report", "manual__0")  # newest first, across DAGs
        assert first[1] == ("etl_daily", "manual__59")
        assert "61 runs" in page
        assert '<a href="/dags/report">report</a>' in page
        assert 'href="/dags/report/graph?run_id=manual__0">manual__0</a>' in page
        assert 'href="/dag-runs?offset=50">Next</a>' in page
        rest, page = await shown(offset=50)
        assert len(rest) == 11
        assert 'href="/dag-runs">Previous</a>' in page
        daily, _ = await shown(dag_id="DAILY")
        assert {d for d, _ in daily} == {"etl_daily"}
        failed, page = await shown(dag_id="etl", state="failed")
        assert len(failed) == 30
        assert "30 runs" in page
        day = now.date()
        today, _ = await shown(start=day.isoformat(), end=day.isoformat())
        assert {d for d, _ in today} == {"etl_daily"}
        later, page = await shown(start=(day + timedelta(days=1)).isoformat(), state="running")
        assert later == [("report", "manual__0")]
        assert 'name="start" value="' + (day + timedelta(days=1)).isoformat() in page
        none, page = await shown(run_type="scheduled")
        assert none == []
        assert "0 runs" in page
        # What was typed comes back escaped in the form.
        _, page = await shown(dag_id=PAYLOAD)
        assert "<script>window" not in page
        assert 'value="&#34;&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;"' in page
        for bad in ({"state": "sleepy"}, {"start": "yesterday"}, {"offset": "-1"}):
            assert (await http.get("/dag-runs", params=bad)).status_code == 422
    async with httpx.AsyncClient(base_url=seeded.url) as anonymous:
        assert (await anonymous.get("/dag-runs")).status_code == 303


async def test_task_instances_of_every_dag_filtered(seeded: UiServer) -> None:
    now = seeded.clock()
    await add_runs(seeded.db, "etl_daily", ["failed", "success"], now=now)
    await add_runs(seeded.db, "report", ["running"], now=now + timedelta(days=2))
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="failed")
    await add_ti(seeded.db, "etl_daily", "manual__0", "load", state=None)
    await add_ti(seeded.db, "etl_daily", "manual__1", "extract", state="success")
    await add_ti(seeded.db, "report", "manual__0", "extract", state="running")
    async with signed_in(seeded, Role.VIEWER) as http:

        async def shown(**params: object) -> tuple[list[tuple[str, str, str]], str]:
            answer = await http.get("/task-instances", params=params)
            assert answer.status_code == 200
            rows = re.findall(
                r'<tr class="ti-row" data-dag-id="([^"]+)" data-run-id="([^"]+)" '
                r'data-task-id="([^"]+)"',
                answer.text,
            )
            return rows, answer.text

        every, page = await shown()
        assert len(every) == 4
        assert every[0] == ("report", "manual__0", "extract")  # newest run first
        assert "4 task instances" in page
        assert 'href="/dags/report?run_id=manual__0&amp;task_id=extract#panel">extract</a>' in page
        failed, _ = await shown(state="failed")
        assert failed == [("etl_daily", "manual__0", "extract")]
        waiting, _ = await shown(state="none")
        assert waiting == [("etl_daily", "manual__0", "load")]
        loads, _ = await shown(task_id="LOA")
        assert loads == [("etl_daily", "manual__0", "load")]
        etl, _ = await shown(dag_id="etl", task_id="extract")
        assert sorted(etl) == [
            ("etl_daily", "manual__0", "extract"),
            ("etl_daily", "manual__1", "extract"),
        ]
        day = now.date().isoformat()
        today, _ = await shown(start=day, end=day)
        assert {d for d, _, _ in today} == {"etl_daily"}
        _, page = await shown(task_id=PAYLOAD)
        assert "<script>window" not in page
        assert "0 task instances" in page
        for bad in ({"state": "sleepy"}, {"end": "2026-13-01"}):
            assert (await http.get("/task-instances", params=bad)).status_code == 422
    async with httpx.AsyncClient(base_url=seeded.url) as anonymous:
        assert (await anonymous.get("/task-instances")).status_code == 303
