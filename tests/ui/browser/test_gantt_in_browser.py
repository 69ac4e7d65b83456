"""The Gantt in headless Chromium against a real `airflow-sc run`: the bars of a run
appear and change state without a reload while the run progresses.

Every wait is Playwright's (`expect`), never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.ui.browser.conftest import PASSWORDS, RunningServer, serve

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=30_000)

DAGS = {
    "slow.py": """
        import time
        from datetime import datetime
        from pathlib import Path

        from airflow_sc.sdk import DAG, PythonOperator

        GO = Path(__file__).resolve().parent / "go_gantt"  # the tasks' user reaches the dags


        def wait_for_it():
            while not GO.exists():
                time.sleep(0.05)


        with DAG("slow", schedule=None, start_date=datetime(2026, 1, 1)):
            PythonOperator(task_id="first", python_callable=wait_for_it) >> PythonOperator(
                task_id="second", python_callable=lambda: None
            )
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(tmp_path_factory.mktemp("ui-gantt"), DAGS)


def api(server: RunningServer, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.api_token()}"}
    answer = httpx.request(
        method, f"{server.url}/api/v2{path}", json=body, headers=headers, timeout=30
    )
    answer.raise_for_status()
    return answer


def test_the_gantt_follows_its_run(browser: Any, server: RunningServer) -> None:
    api(server, "PATCH", "/dags/slow", {"is_paused": False})
    run_id = api(server, "POST", "/dags/slow/dagRuns", {"logical_date": None}).json()["dag_run_id"]
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto("/dags/slow/gantt")
        page.get_by_label("Username").fill("viewer")
        page.get_by_label("Password").fill(PASSWORDS["viewer"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#gantt-run-state")).to_be_visible()
        expect(page.locator('select[name="run_id"]')).to_have_value(run_id)
        expect(page.locator("#live-status")).to_have_text("live")
        page.evaluate("window.__same_page = true")
        (server.home / "dags" / "go_gantt").touch()
        second = page.locator('tr.gantt-row[data-task="second"]')
        expect(second).to_have_attribute("data-state", "success")
        expect(page.locator('tr.gantt-row[data-task="first"]')).to_have_attribute(
            "data-state", "success"
        )
        expect(page.locator("#gantt-run-state")).to_have_text("success")
        assert page.evaluate("window.__same_page") is True
    finally:
        context.close()
