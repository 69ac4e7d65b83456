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
                    "echo first line; seq 1 200; "
                    'while [ ! -f "$AIRFLOW_SC_HOME/dags/go" ]; do sleep 0.05; done; '
                    "echo second line " + repr(PAYLOAD) + "; echo third line"
                ),
            ) >> BashOperator(task_id="after", bash_command="echo after")
    """,
    "graphy.py": """
        import time
        from datetime import datetime
        from pathlib import Path

        from airflow_sc.sdk import DAG, BashOperator, Label, PythonOperator

        GO = Path(__file__).resolve().parent / "go_graph"  # the tasks' user reaches the dags


        def wait_for_it():
            while not GO.exists():
                time.sleep(0.05)


        with DAG("graphy", schedule=None, start_date=datetime(2026, 1, 1), max_active_runs=2):
            (
                PythonOperator(task_id="wait_for_it", python_callable=wait_for_it)
                >> Label("then")
                >> BashOperator(task_id="after", bash_command="echo after")
            )
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
    (server.home / "dags" / "go").touch()
    expect(log).to_contain_text("second line " + PAYLOAD)
    expect(log).to_contain_text("third line")
    expect(page.locator(".panel .log-status")).to_have_text("complete")
    # Follow kept the newest line in view (the log is taller than its box).
    at_bottom = log.evaluate("pre => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 2")
    assert log.evaluate("pre => pre.scrollTop") > 0
    assert at_bottom is True
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
    assert re.search(r"first line\n.*second line .*\n.*third line\n", text, re.S)
    # Its own page shows the finished try, complete, with nothing to stream.
    page.locator(".panel a.log-page").click()
    expect(page.locator("pre.log")).to_contain_text("third line")
    expect(page.locator(".log-status")).to_have_text("complete")


def test_the_graph_follows_a_run_and_the_tabs_show_code_details_runs(
    page: Page, server: RunningServer
) -> None:
    api(server, "PATCH", "/dags/graphy", {"is_paused": False})
    api(server, "POST", "/dags/graphy/dagRuns", {"logical_date": None, "dag_run_id": "g1"})
    sign_in(page, "viewer", "/dags/graphy")
    page.get_by_role("link", name="Graph").click()
    expect(page).to_have_url(re.compile(r"/dags/graphy/graph$"))
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__same_page = true")
    wait = page.locator('svg.graph rect[data-task="wait_for_it"]')
    after = page.locator('svg.graph rect[data-task="after"]')
    expect(wait).to_have_attribute("data-state", re.compile("^(scheduled|queued|running)$"))
    expect(page.locator("svg.graph .edge-label")).to_have_text("then")
    (server.home / "dags" / "go_graph").touch()
    expect(after).to_have_attribute("data-state", "success")
    expect(after).to_have_class(re.compile(r"\bstate-success\b"))
    expect(wait).to_have_attribute("data-state", "success")
    expect(page.locator("#graph-run-state")).to_have_text("success")
    assert page.evaluate("window.__same_page") is True
    # A node leads to its task instance panel on the Grid.
    page.locator('svg.graph a.node[data-task="after"]').click()
    expect(page).to_have_url(re.compile(r"run_id=g1&task_id=after#panel$"))
    expect(page.locator(".panel pre.log")).to_contain_text("after")
    page.get_by_role("link", name="Code").click()
    expect(page.locator("pre.code")).to_contain_text("def wait_for_it():")
    page.get_by_role("link", name="Details").click()
    expect(page.locator("table.details")).to_contain_text("Max active runs2")
    page.get_by_role("link", name="Runs").click()
    expect(page.locator("tr.run-row")).to_have_count(1)
    expect(page.locator("tr.run-row")).to_have_attribute("data-run-id", "g1")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/dags/graphy/runs\?state=failed"))
    expect(page.locator(".count")).to_have_text("0 runs")
    # Opened without a run id, the Graph moves to a newer run when one is created.
    page.get_by_role("link", name="Graph").click()
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator("#graph-run-id")).to_have_text("g1")
    page.evaluate("window.__same_page = true")
    api(server, "POST", "/dags/graphy/dagRuns", {"logical_date": None, "dag_run_id": "g2"})
    expect(page.locator("#graph-run-id")).to_have_text("g2")
    expect(page.locator("#graph-run-state")).to_have_text("success")
    expect(after).to_have_attribute("data-state", "success")
    expect(page.locator('svg.graph a.node[data-task="after"]')).to_have_attribute(
        "href", "/dags/graphy?run_id=g2&task_id=after#panel"
    )
    expect(page.get_by_label("Run")).to_have_value("g2")
    assert page.evaluate("window.__same_page") is True


def test_edit_a_variable_and_a_pool_and_a_viewer_cannot(page: Page, server: RunningServer) -> None:
    api(server, "POST", "/variables", {"key": "greeting", "value": "hello"})
    api(
        server,
        "POST",
        "/connections",
        {"connection_id": "warehouse", "conn_type": "postgres", "password": "pw-secret-1"},
    )
    sign_in(page, "admin")
    page.get_by_role("link", name="Variables").click()
    row = page.locator('tr.admin-row[data-key="greeting"]')
    expect(row).to_contain_text("hello")
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Key")).to_have_value("greeting")
    page.get_by_label("Value").fill("bonjour " + PAYLOAD)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/variables$"))
    expect(row).to_contain_text("bonjour " + PAYLOAD)
    assert row.locator("img, b").count() == 0
    value = api(server, "GET", "/variables/greeting").json()["value"]
    assert value == "bonjour " + PAYLOAD
    # Adding a variable whose key exists shows the error next to the key.
    page.get_by_role("link", name="Add variable").click()
    page.get_by_label("Key").fill("greeting")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-field="key"] .field-error')).to_contain_text("already exists")
    # Deleting asks first.
    page.goto("/variables")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    # A connection's password is masked as in the API, and not in the edit form.
    page.get_by_role("link", name="Connections").click()
    conn = page.locator('tr.admin-row[data-key="warehouse"]')
    expect(conn).to_contain_text("***")
    assert "pw-secret-1" not in page.content()
    conn.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_label("Remove the stored password")).not_to_be_checked()
    assert "pw-secret-1" not in page.content()
    # Pools: edit the slots.
    page.get_by_role("link", name="Pools").click()
    pool = page.locator('tr.admin-row[data-key="default_pool"]')
    pool.get_by_role("link", name="Edit").click()
    page.locator("#field-slots").fill("7")
    page.get_by_role("button", name="Save").click()
    expect(pool.locator("td").nth(1)).to_have_text("7")
    # A viewer sees pools but no controls, and no variables or connections at all.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "viewer", "/pools")
    expect(pool).to_have_count(1)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Variables")).to_have_count(0)
    page.goto("/variables")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
