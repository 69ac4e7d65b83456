"""The DAG's other views in headless Chromium against a real `airflow-sc run`: a running
try's log streaming into the page (follow, search, download), the Graph recolouring live,
the Code and Details views, the Runs list and the admin pages.

Every wait is Playwright's (`expect`, `wait_for_function`), never a sleep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.ui.browser.conftest import PASSWORDS, RunningServer, serve

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=20_000)

PAYLOAD = '<img src=x onerror="window.__xss=1"><b>bold</b>'

DAGS = {
    "talk.py": f"""
        from datetime import datetime

        from airflow_sc.sdk import DAG, BashOperator

        PAYLOAD = {PAYLOAD!r}
        with DAG("talk", schedule=None, start_date=datetime(2026, 1, 1), tags=["logs"]):
            BashOperator(
                task_id="talk",
                bash_command=(
                    "echo first line; "
                    'while [ ! -f "$AIRFLOW_SC_HOME/go" ]; do sleep 0.05; done; '
                    "echo second line " + repr(PAYLOAD) + "; echo third line"
                ),
            ) >> BashOperator(task_id="after", bash_command="echo after")
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(tmp_path_factory.mktemp("ui-views"), DAGS)


@pytest.fixture
def page(browser: Any, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, user: str, path: str = "/dags") -> None:
    page.goto(path)
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who")).to_contain_text(f"{user} (")


def api(server: RunningServer, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.api_token()}"}
    answer = httpx.request(
        method, f"{server.url}/api/v2{path}", json=body, headers=headers, timeout=30
    )
    answer.raise_for_status()
    return answer


def test_a_running_tries_log_streams_into_the_panel(page: Page, server: RunningServer) -> None:
    api(server, "PATCH", "/dags/talk", {"is_paused": False})
    api(server, "POST", "/dags/talk/dagRuns", {"logical_date": None, "dag_run_id": "t1"})
    sign_in(page, "admin", "/dags/talk")
    log_page = "/dags/talk/runs/t1/tasks/talk/log"
    # Until the try runs and has written its first line (the server's page says so).
    page.wait_for_function(
        """async (url) => {
            const text = await (await fetch(url)).text();
            return text.includes('data-more="true"') && text.includes('first line');
        }""",
        arg=log_page,
        polling=100,
    )
    page.goto("/dags/talk?run_id=t1&task_id=talk")
    page.evaluate("window.__same_page = true")
    log = page.locator(".panel pre.log")
    expect(log).to_contain_text("first line")
    expect(page.locator(".panel .log-status")).to_have_text("streaming")
    (server.home / "go").touch()
    expect(log).to_contain_text("second line " + PAYLOAD)
    expect(log).to_contain_text("third line")
    expect(page.locator(".panel .log-status")).to_have_text("complete")
    assert page.evaluate("window.__same_page") is True
    assert log.locator("img, b").count() == 0
    assert page.evaluate("window.__xss") is None
    # Search highlights the matches, in lines that arrived live too.
    # (The runner also logs the command, which holds the words too.)
    page.get_by_label("Search the log").fill("LINE")
    found = log.inner_text().lower().count("line")
    assert found >= 3
    expect(log.locator("mark")).to_have_count(found)
    expect(page.locator(".panel .log-matches")).to_have_text(f"{found} matches")
    page.get_by_label("Search the log").fill("third line")
    expect(log.locator("mark").first).to_have_text("third line")
    page.get_by_label("Search the log").fill("")
    expect(log.locator("mark")).to_have_count(0)
    expect(log).to_contain_text("second line " + PAYLOAD)
    # The download is the same lines as a file.
    with page.expect_download() as download:
        page.locator(".panel a.log-download").click()
    assert download.value.suggested_filename == "talk__t1__talk__1.log"
    text = download.value.path().read_text()
    assert re.search(r"first line\n.*second line .*\n.*third line\n", text)
    # Its own page shows the finished try, complete, with nothing to stream.
    page.locator(".panel a.log-page").click()
    expect(page.locator("pre.log")).to_contain_text("third line")
    expect(page.locator(".log-status")).to_have_text("complete")
