"""The DAG page's other tabs over HTTP: Graph (states of a run, live stream of one run),
Runs (filters, pagination), Code and Details (escaped; sensitive params masked)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import anyio
import pytest

from airflow_sc.auth import Role
from airflow_sc.sdk import DAG, EmptyOperator, Label, Param
from airflow_sc.ui.session import SESSION_COOKIE
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs, store_dags
from tests.api.test_dag_runs_rows import add_ti
from tests.ui.conftest import UiServer
from tests.ui.test_pages import EventReader, seeded, signed_in

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

__all__ = ["seeded"]  # the fixture, imported

PAYLOAD = "<script>window.__xss=1</script>"


@pytest.fixture
async def odd(seeded: UiServer, tmp_path: Path) -> UiServer:
    """A DAG with HTML in its edge label, doc_md, description and a param description."""
    with DAG(
        "odd",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        description="d " + PAYLOAD,
        doc_md="# "
        + PAYLOAD
        + "\n\n**bold** [run](javascript:alert(1)) [site](https://example.org)",
        params={
            "note": Param("n " + PAYLOAD, type="string", description="about " + PAYLOAD),
            "password": Param("hunter2-secret", type="string"),
        },
        max_active_runs=3,
    ) as made:
        EmptyOperator(task_id="first") >> Label("if " + PAYLOAD) >> EmptyOperator(task_id="then")
    await store_dags(seeded.db, tmp_path / "odd.py", [made], now=seeded.clock())
    return seeded


async def test_the_graph_colours_the_chosen_run(seeded: UiServer) -> None:
    await add_runs(seeded.db, "etl_daily", ["success", "running"], now=seeded.clock())
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="success")
    await add_ti(seeded.db, "etl_daily", "manual__0", "load", state="failed")
    await add_ti(seeded.db, "etl_daily", "manual__1", "extract", state="running")
    async with signed_in(seeded, Role.VIEWER) as http:
        newest = await http.get("/dags/etl_daily/graph")
        assert newest.status_code == 200
        states = dict(re.findall(r'<rect class="state-(\w+)" data-task="(\w+)"', newest.text))
        assert {task: state for state, task in states.items()} == {
            "extract": "running",
            "load": "none",
        }
        assert 'data-run="manual__1"' in newest.text
        # Without a run id it follows the newest run (the one-run Grid of the newest).
        assert 'data-follow="newest" data-events="/dags/etl_daily/events?runs=1"' in newest.text
        assert 'data-from="extract" data-to="load"' in newest.text
        older = await http.get("/dags/etl_daily/graph", params={"run_id": "manual__0"})
        found = re.findall(r'<rect class="state-(\w+)" data-task="(\w+)"', older.text)
        assert "data-follow" not in older.text
        assert 'data-events="/dags/etl_daily/events?run_id=manual__0"' in older.text
        assert sorted(found) == [("failed", "load"), ("success", "extract")]
        missing = await http.get("/dags/etl_daily/graph", params={"run_id": "nope"})
        assert missing.status_code == 404
        assert (await http.get("/dags/nope/graph")).status_code == 404
        empty = await http.get("/dags/etl_hourly/graph")
        assert "No runs yet" in empty.text
        assert 'data-task="extract"' in empty.text


async def test_the_graphs_stream_follows_one_run(seeded: UiServer) -> None:
    await add_runs(seeded.db, "etl_daily", ["running", "running"], now=seeded.clock())
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="running")
    host, port = seeded.url.removeprefix("http://").split(":")
    cookie = f"{SESSION_COOKIE}={seeded.token(Role.VIEWER)}"
    target = "/dags/etl_daily/events?run_id=manual__0"
    async with await anyio.connect_tcp(host, int(port)) as stream:
        request = f"GET {target} HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
        await stream.send(request.encode())
        events = EventReader(stream)
        with anyio.fail_after(20):
            await events.block(b"\r\n\r\n")
            assert await events.block() == ": live"
            first = json.loads((await events.block()).split("data: ", 1)[1])
            assert first == {
                "cells": [["manual__0", "extract", "running"]],
                "runs": [["manual__0", "running"]],
                "new_runs": False,
            }


async def test_the_graph_escapes_edge_labels(odd: UiServer) -> None:
    async with signed_in(odd, Role.VIEWER) as http:
        page = (await http.get("/dags/odd/graph")).text
    assert "if &lt;script&gt;window.__xss=1&lt;/script&gt;</text>" in page
    assert "<script>window" not in page


async def test_runs_list_filters_and_pages(seeded: UiServer) -> None:
    states = ["success", "failed"] * 30 + ["running"]
    await add_runs(seeded.db, "etl_daily", states, now=seeded.clock())
    async with signed_in(seeded, Role.VIEWER) as http:

        async def shown(**params: object) -> tuple[list[str], str]:
            answer = await http.get("/dags/etl_daily/runs", params=params)
            assert answer.status_code == 200
            return re.findall(
                r'<tr class="run-row" data-run-id="([^"]+)"', answer.text
            ), answer.text

        first, page = await shown()
        assert len(first) == 50
        assert first[0] == "manual__60"  # newest first
        assert "61 runs" in page
        assert 'href="/dags/etl_daily/graph?run_id=manual__60">manual__60</a>' in page
        assert 'href="/dags/etl_daily/runs?offset=50">Next</a>' in page
        rest, page = await shown(offset=50)
        assert rest == [f"manual__{i}" for i in range(10, -1, -1)]
        assert "Next</a>" not in page
        failed, page = await shown(state="failed")
        assert len(failed) == 30
        assert all(int(r.split("__")[1]) % 2 == 1 for r in failed)
        assert "30 runs" in page
        none, _ = await shown(run_type="scheduled")
        assert none == []
        manual, _ = await shown(run_type="manual", state="running")
        assert manual == ["manual__60"]
        bad = await http.get("/dags/etl_daily/runs", params={"state": "sleepy"})
        assert bad.status_code == 422


async def test_code_and_details_are_escaped_and_masked(odd: UiServer) -> None:
    async with signed_in(odd, Role.VIEWER) as http:
        code = await http.get("/dags/odd/code")
        assert code.status_code == 200
        # The DAG's file is this test module (where the DAG object was made).
        assert Path(__file__).name in code.text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in code.text
        details = await http.get("/dags/odd/details")
        assert details.status_code == 200
        text = details.text
    assert "<script>window" not in code.text + text
    assert "d &lt;script&gt;" in text  # description
    # doc_md as Markdown, its HTML as text, its javascript: link not a link.
    doc = text.split('<div class="doc-md">', 1)[1].split("</div>", 1)[0]
    assert "<h1>&lt;script&gt;window.__xss=1&lt;/script&gt;</h1>" in doc
    assert "<strong>bold</strong>" in doc
    assert "[run](javascript:alert(1))" in doc
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>' in doc
    assert doc.count("<a ") == 1
    row = text.split('data-param="note"', 1)[1].split("</tr>", 1)[0]
    assert "n &lt;script&gt;" in row
    assert "about &lt;script&gt;" in row
    password = text.split('data-param="password"', 1)[1].split("</tr>", 1)[0]
    assert "***" in password
    assert "hunter2-secret" not in text
    assert re.search(r"Max active runs</th><td>3</td>", text)
    for tab in ("Grid", "Graph", "Runs", "Code", "Details"):
        assert f">{tab}</a>" in text
    assert 'aria-current="page">Details</a>' in text
