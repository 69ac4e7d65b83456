"""Task groups in the Grid, in Chromium: collapsed by default, opened and closed by a click
that keeps the open groups in the URL, and a group's summary colour following its run
live."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.browser.conftest import RunningServer, serve
from tests.ui.browser.test_pages_in_browser import api, sign_in

DAGS = {
    "grouped_live.py": """
        import time
        from datetime import datetime
        from pathlib import Path

        from airflow_sc.sdk import DAG, BashOperator, EmptyOperator, PythonOperator, TaskGroup

        GO = Path(__file__).resolve().parent / "go_grouped"


        def wait_for_go():
            while not GO.exists():
                time.sleep(0.05)


        with DAG("grouped_live", schedule=None, start_date=datetime(2026, 1, 1)):
            start = EmptyOperator(task_id="start")
            with TaskGroup("stage") as stage:
                gate = PythonOperator(task_id="gate", python_callable=wait_for_go)
                gate >> BashOperator(task_id="after", bash_command="echo done")
            start >> stage
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(tmp_path_factory.mktemp("ui-groups"), DAGS)


@pytest.fixture
def page(browser: Any, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_collapsed_groups_colour_follows_its_run_and_opens_from_the_url(
    page: Page, server: RunningServer
) -> None:
    sign_in(page, "admin", "/dags/grouped_live")
    page.get_by_role("button", name="Unpause").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__same_page = true")
    api(server, "POST", "/dags/grouped_live/dagRuns", {"logical_date": None, "dag_run_id": "r1"})
    group = page.locator('a.cell[data-run="r1"][data-task="stage"]')
    expect(group).to_have_attribute("data-state", re.compile("^(scheduled|queued|running)$"))
    expect(page.locator('a.cell[data-task="stage.gate"]')).to_have_count(0)
    (server.home / "dags" / "go_grouped").touch()
    expect(group).to_have_attribute("data-state", "success")
    expect(group).to_have_class(re.compile(r"\bstate-success\b"))
    assert page.evaluate("window.__same_page") is True

    page.get_by_role("link", name="▸ stage").click()
    expect(page).to_have_url(re.compile(r"/dags/grouped_live\?runs=25&expand=stage$"))
    for task in ("stage.gate", "stage.after"):
        cell = page.locator(f'a.cell[data-run="r1"][data-task="{task}"]')
        expect(cell).to_have_attribute("data-state", "success")
    expect(page.get_by_role("link", name="▾ stage")).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="▾ stage").click()
    expect(page).to_have_url(re.compile(r"/dags/grouped_live\?runs=25$"))
    expect(page.locator('a.cell[data-task="stage.gate"]')).to_have_count(0)
