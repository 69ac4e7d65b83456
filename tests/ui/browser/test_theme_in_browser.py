"""Dark mode in headless Chromium against a real `airflow-sc run`: the system's
prefers-color-scheme by default, and the header's toggle (kept in localStorage across
pages and reloads) overriding it either way.

Every wait is Playwright's (`expect`), never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.browser.conftest import PASSWORDS, RunningServer, serve

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=20_000)

DAGS = {
    "plain.py": """
        from datetime import datetime

        from airflow_sc.sdk import DAG, EmptyOperator

        with DAG("plain", schedule=None, start_date=datetime(2026, 1, 1)):
            EmptyOperator(task_id="only")
    """,
}

LIGHT_BG = "rgb(255, 255, 255)"
DARK_BG = "rgb(13, 17, 23)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(tmp_path_factory.mktemp("ui-theme"), DAGS)


def open_page(browser: Any, server: RunningServer, scheme: str) -> Any:
    context = browser.new_context(base_url=server.url, color_scheme=scheme)
    context.set_default_timeout(20_000)
    return context


def sign_in(page: Page, user: str) -> None:
    page.goto("/dags")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who")).to_contain_text(f"{user} (")


def test_the_system_scheme_then_the_toggle_decides(browser: Any, server: RunningServer) -> None:
    body = "body"
    for scheme, background in (("light", LIGHT_BG), ("dark", DARK_BG)):
        context = open_page(browser, server, scheme)
        try:
            page = context.new_page()
            sign_in(page, "viewer")
            expect(page.locator(body)).to_have_css("background-color", background)
        finally:
            context.close()
    context = open_page(browser, server, "light")
    try:
        page = context.new_page()
        sign_in(page, "viewer")
        toggle = page.locator("#theme-toggle")
        expect(toggle).to_have_text("Theme: system")
        toggle.click()
        expect(toggle).to_have_text("Theme: dark")
        expect(page.locator(body)).to_have_css("background-color", DARK_BG)
        # Kept across pages and reloads.
        page.goto("/dags/plain")
        expect(page.locator(body)).to_have_css("background-color", DARK_BG)
        page.reload()
        expect(page.locator("#theme-toggle")).to_have_text("Theme: dark")
        expect(page.locator(body)).to_have_css("background-color", DARK_BG)
        # "light" wins over a dark system scheme.
        page.locator("#theme-toggle").click()
        expect(page.locator("#theme-toggle")).to_have_text("Theme: light")
        page.emulate_media(color_scheme="dark")
        expect(page.locator(body)).to_have_css("background-color", LIGHT_BG)
        # Back to the system's choice (dark now).
        page.locator("#theme-toggle").click()
        expect(page.locator("#theme-toggle")).to_have_text("Theme: system")
        expect(page.locator(body)).to_have_css("background-color", DARK_BG)
    finally:
        context.close()
