"""The UI shows what the health route reports unhealthy: a banner rendered on every page,
kept current on the live pages by their stream."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from airflow_sc.api.health import health_body, unhealthy_parts
from airflow_sc.auth import Role
from airflow_sc.runtime import Shutdown
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.ui.grid import Grid
from airflow_sc.ui.live import GridStream
from tests.api.test_monitor import add_job
from tests.ui.conftest import UiServer
from tests.ui.test_pages import signed_in

pytestmark = pytest.mark.anyio

PAGES = ("/dags", "/import-errors", "/health")


def banner(page: str) -> tuple[bool, str]:
    """(shown, its text) of the page's health banner."""
    found = re.search(r'<div id="health-banner"[^>]*?( hidden)?>(.*?)</div>', page, re.S)
    assert found is not None, "every signed-in page has the banner's element"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(2))).strip()
    return found.group(1) is None, text


async def test_every_page_shows_what_the_health_route_reports_unhealthy(
    ui_server: UiServer,
) -> None:
    now = ui_server.clock()
    await add_job(ui_server.db, "SchedulerJob", now - timedelta(hours=1))
    await add_job(ui_server.db, "DagProcessorJob", now)
    async with signed_in(ui_server, Role.VIEWER) as http:
        health = (await http.get("/api/v2/monitor/health")).json()
        pages = [(await http.get(path)).text for path in PAGES]
        await add_job(ui_server.db, "SchedulerJob", now)  # a scheduler beats again
        healthy = [(await http.get(path)).text for path in PAGES]
    assert health["scheduler"]["status"] == "unhealthy"
    for page in pages:
        shown, text = banner(page)
        assert shown
        assert text.startswith("Unhealthy: the scheduler. Runs and tasks may not move on")
    for page in healthy:
        assert banner(page)[0] is False


def test_the_banner_names_the_database_and_what_needs_it_during_an_outage() -> None:
    now = datetime(2026, 12, 8, tzinfo=UTC)
    last = {"SchedulerJob": now, "DagProcessorJob": now}
    body = health_body(None, last_known=last, now=now, heartbeat_timeout=60)
    assert unhealthy_parts(body) == (
        "the metadata database",
        "the scheduler",
        "the DAG processor",
    )
    body = health_body(last, last_known=last, now=now, heartbeat_timeout=60)
    assert unhealthy_parts(body) == ()


async def test_a_live_page_is_told_when_health_changes() -> None:
    reported: list[tuple[str, ...]] = [("the metadata database",)]
    checked = anyio.Event()

    async def health() -> tuple[str, ...]:
        checked.set()
        return reported[0]

    async def look() -> Grid:
        return Grid([], [], {})

    shutdown = Shutdown()
    stream = GridStream(look, ChangeFeed(), shutdown, health, health_every=0.01)
    send_events, received = anyio.create_memory_object_stream[dict[str, Any]](100)
    disconnect = anyio.Event()

    async def receive() -> dict[str, Any]:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def next_event() -> tuple[str, Any] | None:
        while True:
            message = await received.receive()
            body = message.get("body", b"").decode()
            if body.startswith("event: "):
                name, data = body.strip().split("\n")
                return name.removeprefix("event: "), json.loads(data.removeprefix("data: "))

    async with anyio.create_task_group() as tg:
        tg.start_soon(stream, {"type": "http"}, receive, send_events.send)
        with anyio.fail_after(10):
            assert await next_event() == ("grid", {"cells": [], "runs": [], "new_runs": False})
            assert await next_event() == ("health", {"unhealthy": ["the metadata database"]})
            # Unchanged: no event. Then the outage ends: the page is told at the next check.
            checked = anyio.Event()
            await checked.wait()
            reported[0] = ()
            assert await next_event() == ("health", {"unhealthy": []})
        disconnect.set()
    send_events.close()
    received.close()


def health_rows(page: str) -> dict[str, tuple[str, str, str]]:
    """The health page's rows: component -> (status, latest heartbeat, age)."""
    rows = {}
    for name, cells in re.findall(r'<tr data-component="([^"]+)"[^>]*>(.*?)</tr>', page, re.S):
        texts = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", cells)]
        rows[name] = (texts[0], texts[1], texts[2])
    return rows


async def test_the_health_page_shows_each_component_as_the_health_route(
    ui_server: UiServer,
) -> None:
    now = ui_server.clock()
    await add_job(ui_server.db, "SchedulerJob", now - timedelta(hours=1))
    await add_job(ui_server.db, "DagProcessorJob", now - timedelta(seconds=3))
    async with signed_in(ui_server, Role.VIEWER) as http:
        page = await http.get("/health")
        dags = (await http.get("/dags")).text
    async with httpx.AsyncClient(base_url=ui_server.url) as anonymous:
        assert (await anonymous.get("/health")).status_code == 303  # sign in first
    assert page.status_code == 200
    rows = health_rows(page.text)
    assert rows == {
        "Metadata database": ("healthy", "(no heartbeat)", ""),
        "Scheduler": (
            "unhealthy",
            (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "3600 s",
        ),
        "Triggerer": ("never seen", "none", ""),
        "DAG processor": (
            "healthy",
            (now - timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S"),
            "3 s",
        ),
    }
    # The banner (shown: the scheduler is stale) leads to this page.
    assert '<a href="/health">Health</a>.' in dags
