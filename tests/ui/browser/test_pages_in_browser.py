"""The UI in headless Chromium against a real `airflow-sc run`: sign-in, the DAG list's
filters, a viewer's limits, the Grid following a run live, and escaping of user strings.

Every wait is Playwright's `expect` (it retries until the page matches or the timeout),
never a sleep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest

from airflow_sc.db.engine import open_database
from tests.ui.browser.conftest import PASSWORDS, RunningServer, serve

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

#: Starting `airflow-sc run` (in the first test's setup) takes a while on a busy machine.
pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=20_000)

PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

DAGS = {
    "live_dag.py": """
        import time
        from datetime import datetime
        from pathlib import Path

        from airflow_sc.sdk import DAG, BashOperator, PythonOperator

        GO = Path(__file__).resolve().parent / "go"  # the tasks' user reaches the dags folder


        def wait_for_go():
            # The test creates the file once it has seen this task on its way.
            while not GO.exists():
                time.sleep(0.05)


        with DAG("live_dag", schedule=None, start_date=datetime(2026, 1, 1), tags=["live"]):
            PythonOperator(task_id="wait_for_go", python_callable=wait_for_go) >> BashOperator(
                task_id="after", bash_command="echo done"
            )
    """,
    "etl.py": """
        from datetime import datetime

        from airflow_sc.sdk import DAG, EmptyOperator

        with DAG("etl_a", schedule="@daily", start_date=datetime(2026, 1, 1), tags=["etl"]):
            EmptyOperator(task_id="noop")
        with DAG("report_b", schedule=None, start_date=datetime(2026, 1, 1), tags=["reports"]):
            EmptyOperator(task_id="noop")
    """,
    "flaky_dag.py": """
        from datetime import datetime
        from pathlib import Path

        from airflow_sc.sdk import DAG, PythonOperator

        FIXED = Path(__file__).resolve().parent / "fixed"


        def work():
            if not FIXED.exists():
                raise RuntimeError("not fixed yet")


        with DAG("flaky_dag", schedule=None, start_date=datetime(2026, 1, 1)):
            PythonOperator(task_id="work", python_callable=work)
    """,
    "params_dag.py": """
        from datetime import datetime

        from airflow_sc.sdk import DAG, EmptyOperator, Param

        with DAG(
            "params_dag",
            schedule=None,
            start_date=datetime(2026, 1, 1),
            params={
                "count": Param(5, type="integer", minimum=1, description="How many"),
                "mode": Param("fast", enum=["fast", "slow"]),
                "dry_run": Param(False, type="boolean"),
            },
        ):
            EmptyOperator(task_id="noop")
    """,
    "xss.py": f"""
        from datetime import datetime

        from airflow_sc.sdk import DAG, BashOperator

        PAYLOAD = {PAYLOAD!r}
        with DAG(
            "xss_dag",
            description="About " + PAYLOAD,
            doc_md="# Doc " + PAYLOAD,
            schedule=None,
            start_date=datetime(2026, 1, 1),
            tags=["x" + PAYLOAD],
        ):
            BashOperator(task_id="shout", bash_command="echo " + repr(PAYLOAD))
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(tmp_path_factory.mktemp("ui-browser"), DAGS)


@pytest.fixture
def page(browser: Any, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url)
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


def api(server: RunningServer, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.api_token()}"}
    answer = httpx.request(
        method, f"{server.url}/api/v2{path}", json=body, headers=headers, timeout=30
    )
    answer.raise_for_status()
    return answer


def dag_rows(page: Page) -> Any:
    return page.locator("tr.dag")


def test_sign_in_returns_to_the_page_asked_for_and_signs_out(page: Page) -> None:
    page.goto("/dags?search=etl")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dags\?search=etl$"))
    expect(dag_rows(page)).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/dags")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_dag_list_filters_live_in_the_url(page: Page) -> None:
    sign_in(page, "viewer")
    expect(dag_rows(page)).to_have_count(6)
    page.get_by_label("Search DAG ids").fill("ETL")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"search=ETL"))
    expect(dag_rows(page)).to_have_count(1)
    expect(dag_rows(page).first).to_have_attribute("data-dag-id", "etl_a")
    page.get_by_role("link", name="Clear filters").click()
    page.locator("tr.dag[data-dag-id=report_b] a.tag").click()
    expect(page).to_have_url(re.compile(r"tags=reports"))
    expect(dag_rows(page)).to_have_count(1)
    expect(dag_rows(page).first).to_have_attribute("data-dag-id", "report_b")
    # Every DAG starts paused (dags_are_paused_at_creation): none is active.
    page.goto("/dags?state=active")
    expect(page.locator(".count")).to_have_text("0 DAGs")
    page.goto("/dags?state=paused")
    expect(dag_rows(page)).to_have_count(6)


def test_a_viewer_can_neither_pause_nor_trigger(page: Page) -> None:
    sign_in(page, "viewer")
    expect(dag_rows(page)).to_have_count(6)
    expect(page.locator(".pause-toggle")).to_have_count(0)
    page.goto("/dags/etl_a")
    expect(page.get_by_role("heading", name="etl_a")).to_be_visible()
    expect(page.locator(".pause-toggle")).to_have_count(0)
    expect(page.get_by_role("link", name="Trigger")).to_have_count(0)
    # Even a hand-made request with the session's own CSRF token is refused.
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch('/dags/etl_a/pause', {method: 'POST',
                headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'is_paused=false&csrf_token=' + encodeURIComponent(token)});
            return r.status;
        }"""
    )
    assert status == 403
    page.goto("/dags/params_dag/trigger")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    page.goto("/dags?state=paused")
    expect(dag_rows(page)).to_have_count(6)


def test_the_grid_follows_a_run_without_reloading(page: Page, server: RunningServer) -> None:
    sign_in(page, "admin", "/dags/live_dag")
    page.get_by_role("button", name="Unpause").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__same_page = true")
    api(server, "POST", "/dags/live_dag/dagRuns", {"logical_date": None, "dag_run_id": "r1"})
    waiting = page.locator('a.cell[data-run="r1"][data-task="wait_for_go"]')
    expect(waiting).to_have_attribute("data-state", re.compile("^(scheduled|queued|running)$"))
    (server.home / "dags" / "go").touch()
    after = page.locator('a.cell[data-run="r1"][data-task="after"]')
    expect(after).to_have_attribute("data-state", "success")
    expect(after).to_have_class(re.compile(r"\bstate-success\b"))
    expect(waiting).to_have_attribute("data-state", "success")
    expect(page.locator('th.run[data-run="r1"] .bar')).to_have_class(re.compile("state-success"))
    assert page.evaluate("window.__same_page") is True


def test_user_strings_are_shown_as_text(page: Page, server: RunningServer) -> None:
    api(server, "PATCH", "/dags/xss_dag", {"is_paused": False})
    sign_in(page, "admin")
    row = page.locator("tr.dag[data-dag-id=xss_dag]")
    expect(row.locator(".description")).to_have_text("About " + PAYLOAD)
    expect(row.locator("a.tag")).to_have_text("x" + PAYLOAD)
    assert row.locator("img, script").count() == 0
    row.locator("a.dag-link").click()
    # doc_md as Markdown: its heading holds the HTML as text.
    expect(page.locator(".doc-md h1")).to_have_text("Doc " + PAYLOAD)
    expect(page.locator("#live-status")).to_have_text("live")
    conf = {"note": PAYLOAD, "password": "hunter2-secret"}
    api(server, "POST", "/dags/xss_dag/dagRuns", {"logical_date": None, "conf": conf})
    cell = page.locator('a.cell[data-task="shout"]')
    expect(cell).to_have_attribute("data-state", "success")
    cell.click()
    expect(page.locator("pre.log")).to_contain_text(PAYLOAD)
    shown_conf = json.loads(page.locator("pre.conf").inner_text())
    assert shown_conf == {"note": PAYLOAD, "password": "***"}
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None


def test_trigger_from_the_params_form(page: Page, server: RunningServer) -> None:
    sign_in(page, "admin", "/dags/params_dag")
    page.get_by_role("link", name="Trigger").click()
    count = page.locator('[data-param="count"]')
    expect(count.locator("input")).to_have_value("5")
    count.locator("input").fill("0")
    page.locator('[data-param="mode"] select').select_option("slow")
    page.locator('[data-param="dry_run"] input[type=checkbox]').check()
    page.get_by_label("Run id").fill("from_form")
    page.get_by_role("button", name="Trigger").click()
    expect(count.locator(".field-error")).to_contain_text("minimum")
    expect(count.locator("input")).to_have_value("0")
    expect(page.locator('[data-param="mode"] select')).to_have_value("slow")
    count.locator("input").fill("2")
    page.get_by_role("button", name="Trigger").click()
    expect(page).to_have_url(re.compile(r"/dags/params_dag#run-from_form$"))
    expect(page.locator('th.run[data-run="from_form"]')).to_have_count(1)
    run = api(server, "GET", "/dags/params_dag/dagRuns/from_form", {}).json()
    assert run["conf"] == {"count": 2, "mode": "slow", "dry_run": True}
    assert run["triggered_by"] == "ui"


def test_clear_a_failed_task_and_see_it_run_again(page: Page, server: RunningServer) -> None:
    api(server, "PATCH", "/dags/flaky_dag", {"is_paused": False})
    sign_in(page, "admin", "/dags/flaky_dag")
    expect(page.locator("#live-status")).to_have_text("live")
    api(server, "POST", "/dags/flaky_dag/dagRuns", {"logical_date": None, "dag_run_id": "f1"})
    cell = page.locator('a.cell[data-run="f1"][data-task="work"]')
    expect(cell).to_have_attribute("data-state", "failed")
    (server.home / "dags" / "fixed").touch()
    cell.click()
    page.get_by_label("Action").select_option("clear")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("Clear would change 1 task instance")
    expect(cell).to_have_attribute("data-state", "failed")  # the preview changed nothing
    page.get_by_role("button", name="Confirm: Clear").click()
    expect(page).to_have_url(re.compile(r"run_id=f1&task_id=work#panel$"))
    expect(cell).to_have_attribute("data-state", "success")
    expect(page.locator('th.run[data-run="f1"] .bar')).to_have_class(re.compile("state-success"))


def _set_triggerer_job(server: RunningServer, state: str | None) -> None:
    """A triggerer job with a heartbeat an hour old (`state` "running": the health route
    calls the triggerer unhealthy), or that job ended (`state` None: nothing unhealthy).
    airflow-sc runs no triggerer of its own, so nothing else writes these rows."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, update

    from airflow_sc.db.models import job

    async def write() -> None:
        async with open_database(f"sqlite:///{server.home / 'airflow-sc.db'}") as db:

            async def body(tx: Any) -> None:
                if state is None:
                    ended = update(job).where(job.c.job_type == "TriggererJob")
                    await tx.execute(ended.values(state="success"))
                    return
                beat = datetime.now(UTC) - timedelta(hours=1)
                row = {"job_type": "TriggererJob", "state": state, "latest_heartbeat": beat}
                await tx.execute(insert(job).values(**row, start_date=beat))

            await db.run(body)

    # Playwright's sync API holds an event loop in this thread: run ours in another.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, write).result()


def test_the_health_banner_shows_and_clears_without_reloading(
    page: Page, server: RunningServer
) -> None:
    sign_in(page, "viewer", "/dags")
    banner = page.locator("#health-banner")
    expect(banner).to_be_hidden()
    _set_triggerer_job(server, "running")
    try:
        page.goto("/dags")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Unhealthy: the triggerer.")
        page.goto("/dags/etl_a")  # a live page: its stream follows the health route
        expect(page.locator("#live-status")).to_have_text("live")
        expect(banner).to_be_visible()
        page.evaluate("window.__same_page = true")
    finally:
        _set_triggerer_job(server, None)
    expect(banner).to_be_hidden()
    assert page.evaluate("window.__same_page") is True
