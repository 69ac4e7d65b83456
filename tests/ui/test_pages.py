"""The UI's routes over HTTP (httpx on the real server): sign-in, sessions, CSRF, security
headers, the DAG list and its filters, pausing, import errors, the DAG page and its Grid."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import anyio
import anyio.abc
import httpx
import pytest
from sqlalchemy import select, update

from airflow_sc.auth import Role, create_user, reset_password
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, serialized_dag
from airflow_sc.sdk import DAG, EmptyOperator, TaskGroup
from airflow_sc.ui.session import SESSION_COOKIE
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_import_error, add_runs, example_dag, store_dags
from tests.api.test_dag_runs_rows import add_ti
from tests.ui.conftest import UiServer

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


@pytest.fixture
async def seeded(ui_server: UiServer, tmp_path: Path) -> UiServer:
    now = ui_server.clock()
    await store_dags(
        ui_server.db,
        tmp_path / "etl.py",
        [
            example_dag("etl_daily", tmp_path / "etl.py", tags=["etl", "daily"]),
            example_dag("etl_hourly", tmp_path / "etl.py", tags=["etl"]),
        ],
        now=now,
    )
    await store_dags(
        ui_server.db,
        tmp_path / "report.py",
        [example_dag("report", tmp_path / "report.py", tags=["reports"])],
        now=now,
        paused=True,
    )
    return ui_server


def signed_in(server: UiServer, role: Role) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, cookies=server.cookies(role))


async def test_sign_in_sets_a_safe_cookie_and_returns_to_the_page(ui_server: UiServer) -> None:
    await create_user(ui_server.db, "alice", "correct horse 1", Role.VIEWER)
    async with httpx.AsyncClient(base_url=ui_server.url) as http:
        page = await http.get("/dags?state=paused")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fdags%3Fstate%3Dpaused"
        form = await http.get(page.headers["location"])
        assert form.status_code == 200
        fields = {
            "csrf_token": hidden(form.text, "csrf_token"),
            "next": hidden(form.text, "next"),
            "username": "alice",
        }
        wrong = await http.post("/login", data=fields | {"password": "nope"})
        assert wrong.status_code == 401
        assert "Invalid username or password" in wrong.text
        fields["csrf_token"] = hidden(wrong.text, "csrf_token")
        done = await http.post("/login", data=fields | {"password": "correct horse 1"})
        assert done.status_code == 303
        assert done.headers["location"] == "/dags?state=paused"
        cookie = next(
            c for c in done.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP on 127.0.0.1
        listing = await http.get("/dags?state=paused")
        assert listing.status_code == 200
        assert "alice (viewer)" in listing.text


async def test_sign_in_refuses_a_form_without_its_csrf_value(ui_server: UiServer) -> None:
    await create_user(ui_server.db, "alice", "correct horse 1", Role.ADMIN)
    async with httpx.AsyncClient(base_url=ui_server.url) as http:
        answer = await http.post(
            "/login", data={"username": "alice", "password": "correct horse 1", "csrf_token": "x"}
        )
        assert answer.status_code == 403
        assert SESSION_COOKIE not in answer.cookies


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
async def test_sign_in_never_redirects_off_site(ui_server: UiServer, target: str) -> None:
    await create_user(ui_server.db, "alice", "correct horse 1", Role.ADMIN)
    async with httpx.AsyncClient(base_url=ui_server.url) as http:
        form = await http.get("/login", params={"next": target})
        answer = await http.post(
            "/login",
            data={
                "username": "alice",
                "password": "correct horse 1",
                "csrf_token": hidden(form.text, "csrf_token"),
                "next": hidden(form.text, "next"),
            },
        )
        assert answer.headers["location"] == "/dags"


async def test_every_page_carries_the_security_headers(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:
        for path in (
            "/login",
            "/dags",
            "/import-errors",
            "/dags/etl_daily",
            "/dags/etl_daily/graph",
            "/dags/etl_daily/runs",
            "/dags/etl_daily/code",
            "/dags/etl_daily/details",
            "/pools",
        ):
            answer = await http.get(path)
            assert answer.status_code == 200, path
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "default-src 'none'" in csp
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "same-origin"
            assert answer.headers["cache-control"] == "no-store"
        static = await http.get("/ui-static/ui.js")
        assert static.status_code == 200
        assert "EventSource" in static.text


async def test_a_session_ends_with_its_users_password(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.OP) as http:
        assert (await http.get("/dags")).status_code == 200
        await reset_password(seeded.db, "op", "a new password 1")
        # The stamp cache rechecks after a while; move the clock past it.
        seeded.clock.advance(3600)
        assert (await http.get("/dags")).status_code == 303


async def test_dag_list_filters_in_the_query_string(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:

        async def shown(**params: object) -> list[str]:
            answer = await http.get("/dags", params=params)
            assert answer.status_code == 200
            return re.findall(r'<tr class="dag" data-dag-id="([^"]+)"', answer.text)

        assert await shown() == ["etl_daily", "etl_hourly", "report"]
        assert await shown(search="HOURLY") == ["etl_hourly"]
        assert await shown(search="etl%ly") == ["etl_daily", "etl_hourly"]
        assert await shown(tags="daily") == ["etl_daily"]
        assert await shown(tags=["daily", "reports"]) == ["etl_daily", "report"]
        assert await shown(state="paused") == ["report"]
        assert await shown(state="active", tags="etl") == ["etl_daily", "etl_hourly"]
        assert (await http.get("/dags", params={"state": "sleeping"})).status_code == 422


async def test_dag_list_shows_recent_runs_oldest_first(seeded: UiServer) -> None:
    states = ["success"] * 3 + ["failed", "running"] + ["success"] * 8
    await add_runs(seeded.db, "etl_daily", states, now=seeded.clock())
    async with signed_in(seeded, Role.VIEWER) as http:
        page = (await http.get("/dags")).text
    row = page.split('data-dag-id="etl_daily"', 1)[1].split("</tr>", 1)[0]
    bars = re.findall(r'class="bar state-(\w+)" title="([^"]+)"', row)
    # The newest ten of thirteen runs, oldest to newest from left to right.
    assert [title.split(":")[0] for _, title in bars] == [f"manual__{i}" for i in range(3, 13)]
    assert [state for state, _ in bars] == states[3:]


async def test_pause_needs_dag_edit_and_the_csrf_token(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:
        page = (await http.get("/dags")).text
        assert "pause-toggle" not in page
        refused = await http.post(
            "/dags/etl_daily/pause",
            data={"is_paused": "true", "csrf_token": seeded.csrf(Role.VIEWER)},
        )
        assert refused.status_code == 403
    async with signed_in(seeded, Role.OP) as http:
        no_token = await http.post("/dags/etl_daily/pause", data={"is_paused": "true"})
        assert no_token.status_code == 403
        assert "CSRF" in no_token.text
        other_session = seeded.csrf(Role.ADMIN)
        wrong = await http.post(
            "/dags/etl_daily/pause", data={"is_paused": "true", "csrf_token": other_session}
        )
        assert wrong.status_code == 403
        assert "etl_daily" in (await http.get("/dags", params={"state": "active"})).text
        done = await http.post(
            "/dags/etl_daily/pause",
            data={
                "is_paused": "true",
                "csrf_token": seeded.csrf(Role.OP),
                "next": "/dags?state=paused",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/dags?state=paused"
        paused = (await http.get("/dags", params={"state": "paused"})).text
        assert 'data-dag-id="etl_daily"' in paused


async def test_import_errors_banner_and_page(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:
        assert "failed to import" not in (await http.get("/dags")).text
        trace = 'Traceback:\n  File "<b>broken.py</b>", line 3\nSyntaxError: invalid syntax'
        await add_import_error(seeded.db, "/dags/<b>broken.py</b>", trace, now=seeded.clock())
        banner = (await http.get("/dags")).text
        assert "1 DAG file failed to import" in banner
        page = (await http.get("/import-errors")).text
        assert "/dags/&lt;b&gt;broken.py&lt;/b&gt;" in page
        assert "line 3" in page
        assert "<b>" not in page


async def test_dag_page_grid_and_task_instance_panel(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:
        page = await http.get("/dags/etl_daily")
        assert page.status_code == 200
        assert "No runs yet." in page.text
        assert re.findall(r'<th class="task" scope="row">(\w+)</th>', page.text) == [
            "extract",
            "load",
        ]
        assert (await http.get("/dags/nope")).status_code == 404


class EventReader:
    """A server-sent-events client on a plain socket: reads one block (up to a blank line)
    at a time. (httpx's line iterators leave async generators behind on trio.)"""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def block(self, end: bytes = b"\n\n") -> str:
        while end not in self.buffer:
            self.buffer += await self.stream.receive()
        block, self.buffer = self.buffer.split(end, 1)
        return block.decode()


async def test_grid_events_follow_the_change_feed(seeded: UiServer) -> None:
    host, port = seeded.url.removeprefix("http://").split(":")
    cookie = f"{SESSION_COOKIE}={seeded.token(Role.VIEWER)}"
    async with await anyio.connect_tcp(host, int(port)) as stream:
        request = f"GET /dags/etl_daily/events HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
        await stream.send(request.encode())
        events = EventReader(stream)
        # HTTP/1.0: the body is not chunked.
        head = await events.block(b"\r\n\r\n")
        assert head.startswith("HTTP/1.1 200")
        assert "content-type: text/event-stream" in head.lower()
        assert await events.block() == ": live"
        snapshot = (await events.block()).split("\n")
        assert snapshot == [
            "event: grid",
            'data: {"cells":[],"runs":[],"new_runs":false}',
        ]
        # Then what the health answer reports unhealthy (the banner): nothing here.
        assert (await events.block()).split("\n") == ["event: health", 'data: {"unhealthy":[]}']
        await add_runs(seeded.db, "etl_daily", ["running"], now=seeded.clock())
        seeded.changes.runs_progressed(None)
        name, data = (await events.block()).split("\n")[-2:]
        assert name.endswith("event: grid")
        change = json.loads(data.removeprefix("data: "))
        assert change == {"cells": [], "runs": [["manual__0", "running"]], "new_runs": True}


async def test_trigger_form_creates_a_run_or_shows_errors_by_field(seeded: UiServer) -> None:
    async with signed_in(seeded, Role.VIEWER) as http:
        assert (await http.get("/dags/etl_daily/trigger")).status_code == 403
    async with signed_in(seeded, Role.USER) as http:
        form = await http.get("/dags/etl_daily/trigger")
        assert form.status_code == 200
        assert 'name="param.n" value="3"' in form.text
        # The sensitive param's default is not sent to the browser.
        assert "s3cr3t-default" not in form.text
        csrf = seeded.csrf(Role.USER)
        bad = await http.post(
            "/dags/etl_daily/trigger",
            data={"csrf_token": csrf, "param.n": "three", "run_id": "ui_run", "conf": "{}"},
        )
        assert bad.status_code == 400
        field = bad.text.split('data-param="n"', 1)[1].split("</div>", 1)[0]
        assert "must be a whole number" in field
        assert 'value="three"' in field  # what was typed stays
        bad_id = await http.post(
            "/dags/etl_daily/trigger",
            data={"csrf_token": csrf, "param.n": "4", "run_id": "no spaces\nor newlines"},
        )
        assert bad_id.status_code == 400
        assert "field-error" in bad_id.text.split('data-field="run_id"', 1)[1].split("</div>")[0]
        assert (await http.get("/api/v2/dags/etl_daily/dagRuns")).status_code == 401
        done = await http.post(
            "/dags/etl_daily/trigger",
            data={"csrf_token": csrf, "param.n": "4", "param.api_token": "", "run_id": "ui_run"},
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/dags/etl_daily#run-ui_run"
        again = await http.post(
            "/dags/etl_daily/trigger",
            data={"csrf_token": csrf, "param.n": "4", "run_id": "ui_run"},
        )
        assert again.status_code == 400
        assert "already exists" in again.text.split('data-field="run_id"', 1)[1]
    async with httpx.AsyncClient(base_url=seeded.url, headers=seeded_headers(seeded)) as api:
        run = (await api.get("/api/v2/dags/etl_daily/dagRuns/ui_run")).json()
    assert run["conf"] == {"n": 4}
    assert run["triggered_by"] == "ui"
    assert run["triggering_user_name"] == "user"
    assert run["logical_date"] is None


def seeded_headers(server: UiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(Role.ADMIN)}"}


async def test_grid_events_end_when_the_server_drains(seeded: UiServer) -> None:
    host, port = seeded.url.removeprefix("http://").split(":")
    cookie = f"{SESSION_COOKIE}={seeded.token(Role.VIEWER)}"
    async with await anyio.connect_tcp(host, int(port)) as stream:
        request = f"GET /dags/etl_daily/events HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
        await stream.send(request.encode())
        events = EventReader(stream)
        await events.block(b"\r\n\r\n")
        assert await events.block() == ": live"
        assert (await events.block()).startswith("event: grid")
        seeded.ctx.shutdown.request_drain("test", grace=5)

        async def read_to_the_end() -> None:
            while True:
                await stream.receive()

        with anyio.fail_after(10), pytest.raises(anyio.EndOfStream):
            await read_to_the_end()


async def test_clear_and_mark_from_the_panel_preview_first(seeded: UiServer) -> None:
    await add_runs(seeded.db, "etl_daily", ["failed"], now=seeded.clock(), started=True)
    await run_on_newest_version(seeded.db, "etl_daily")
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="failed")
    await add_ti(seeded.db, "etl_daily", "manual__0", "load", state="upstream_failed")
    action = "/dags/etl_daily/runs/manual__0/tasks/extract/action"
    async with signed_in(seeded, Role.VIEWER) as http:
        panel = await http.get(
            "/dags/etl_daily", params={"run_id": "manual__0", "task_id": "extract"}
        )
        assert "task-action" not in panel.text
        refused = await http.post(
            action, data={"csrf_token": seeded.csrf(Role.VIEWER), "action": "clear"}
        )
        assert refused.status_code == 403
    async with signed_in(seeded, Role.OP) as http:
        csrf = seeded.csrf(Role.OP)
        preview = await http.post(
            action, data={"csrf_token": csrf, "action": "clear", "downstream": "true"}
        )
        assert preview.status_code == 200
        shown = preview.text.split('id="preview"', 1)[1].split("</div>", 1)[0]
        assert "Clear would change 2 task instances" in shown
        assert "<code>extract</code> · manual__0 (now failed)" in shown
        assert "<code>load</code> · manual__0 (now upstream_failed)" in shown
        # The dry run wrote nothing.
        panel = await http.get(
            "/dags/etl_daily", params={"run_id": "manual__0", "task_id": "extract"}
        )
        assert 'data-task="extract" data-state="failed"' in panel.text
        marked = await http.post(
            action, data={"csrf_token": csrf, "action": "success", "step": "apply"}
        )
        assert marked.status_code == 303
        assert marked.headers["location"] == (
            "/dags/etl_daily?run_id=manual__0&task_id=extract#panel"
        )
        grid = (await http.get("/dags/etl_daily")).text
        assert 'data-task="extract" data-state="success"' in grid
        assert 'data-task="load" data-state="upstream_failed"' in grid
        cleared = await http.post(
            action,
            data={"csrf_token": csrf, "action": "clear", "downstream": "true", "step": "apply"},
        )
        assert cleared.status_code == 303
        grid = (await http.get("/dags/etl_daily")).text
        assert 'data-task="extract" data-state="none"' in grid
        assert 'data-task="load" data-state="none"' in grid


async def test_clear_only_failed_from_the_panel(seeded: UiServer) -> None:
    await add_runs(seeded.db, "etl_daily", ["failed"], now=seeded.clock(), started=True)
    await run_on_newest_version(seeded.db, "etl_daily")
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="success")
    await add_ti(seeded.db, "etl_daily", "manual__0", "load", state="failed")
    action = "/dags/etl_daily/runs/manual__0/tasks/extract/action"
    fields = {"action": "clear", "downstream": "true", "only_failed": "true"}
    async with signed_in(seeded, Role.OP) as http:
        csrf = seeded.csrf(Role.OP)
        panel = await http.get(
            "/dags/etl_daily", params={"run_id": "manual__0", "task_id": "extract"}
        )
        assert 'name="only_failed" value="true">' in panel.text
        preview = await http.post(action, data=fields | {"csrf_token": csrf})
        assert preview.status_code == 200
        shown = preview.text.split('id="preview"', 1)[1].split("</div>", 1)[0]
        assert "Clear would change 1 task instance:" in shown
        assert "<code>load</code> · manual__0 (now failed)" in shown
        assert "extract" not in shown.split("<ul>", 1)[1].split("</ul>", 1)[0]
        # The confirm form carries the option on.
        assert '<input type="hidden" name="only_failed" value="true">' in shown
        cleared = await http.post(action, data=fields | {"csrf_token": csrf, "step": "apply"})
        assert cleared.status_code == 303
        grid = (await http.get("/dags/etl_daily")).text
        assert 'data-task="extract" data-state="success"' in grid
        assert 'data-task="load" data-state="none"' in grid
        # "Only failed" means nothing to a mark: it marks as before.
        marked = await http.post(
            action,
            data={"csrf_token": csrf, "action": "failed", "only_failed": "true", "step": "apply"},
        )
        assert marked.status_code == 303
        grid = (await http.get("/dags/etl_daily")).text
        assert 'data-task="extract" data-state="failed"' in grid
        # Mark skipped, as the API's PATCH with new_state "skipped": dry run, then apply.
        skip = {"csrf_token": csrf, "action": "skipped", "downstream": "true"}
        preview = await http.post(action, data=skip)
        shown = preview.text.split('id="preview"', 1)[1].split("</div>", 1)[0]
        assert "Mark skipped would change 2 task instances" in shown
        assert (await http.post(action, data=skip | {"step": "apply"})).status_code == 303
        grid = (await http.get("/dags/etl_daily")).text
        assert 'data-task="extract" data-state="skipped"' in grid
        assert 'data-task="load" data-state="skipped"' in grid


async def run_on_newest_version(db: Database, dag_id: str) -> None:
    """Give the DAG's runs its newest serialized version, as start_runs does."""

    async def body(tx: Transaction) -> None:
        newest = (
            select(serialized_dag.c.id)
            .where(serialized_dag.c.dag_id == dag_id)
            .order_by(serialized_dag.c.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        await tx.execute(
            update(dag_run).where(dag_run.c.dag_id == dag_id).values(created_dag_version_id=newest)
        )

    await db.run(body)


def grouped_dag(fileloc: Path) -> DAG:
    with DAG("grouped", schedule=None, start_date=datetime(2026, 1, 1)) as made:
        start = EmptyOperator(task_id="start")
        with TaskGroup("stage") as stage:
            first = EmptyOperator(task_id="first")
            with TaskGroup("inner"):
                deep = EmptyOperator(task_id="deep")
            first >> deep
        start >> stage
    made.fileloc = str(fileloc)
    return made


GROUP_ROW = re.compile(r'<tr class="group-row" data-group="([\w.]+)">.*?href="([^"]+)"', re.S)


async def test_grid_groups_are_collapsed_and_open_from_the_url(ui_server: UiServer) -> None:
    now = ui_server.clock()
    fileloc = ui_server.home / "grouped.py"
    await store_dags(ui_server.db, fileloc, [grouped_dag(fileloc)], now=now)
    await add_runs(ui_server.db, "grouped", ["running"], now=now)
    await add_ti(ui_server.db, "grouped", "manual__0", "start", state="success")
    await add_ti(ui_server.db, "grouped", "manual__0", "stage.first", state="success")
    await add_ti(ui_server.db, "grouped", "manual__0", "stage.inner.deep", state="failed")
    async with signed_in(ui_server, Role.VIEWER) as http:
        page = (await http.get("/dags/grouped")).text
        # Collapsed: the group is one row whose cell is its tasks' summary (failed wins).
        assert re.findall(r'data-task="([\w.]+)" data-state="(\w+)"', page) == [
            ("start", "success"),
            ("stage", "failed"),
        ]
        [(group, toggle)] = GROUP_ROW.findall(page)
        assert (group, toggle) == ("stage", "/dags/grouped?runs=25&amp;expand=stage")
        opened = (await http.get("/dags/grouped?runs=25&expand=stage")).text
        assert re.findall(r'data-task="([\w.]+)" data-state="(\w+)"', opened) == [
            ("start", "success"),
            ("stage", "failed"),
            ("stage.first", "success"),
            ("stage.inner", "failed"),
        ]
        # The open group's toggle closes it; the nested one's keeps the parent open.
        assert [t for _, t in GROUP_ROW.findall(opened)] == [
            "/dags/grouped?runs=25",
            "/dags/grouped?runs=25&amp;expand=stage&amp;expand=stage.inner",
        ]
        # Links, the Grid fragment and the event stream carry the open groups.
        assert "expand=stage#panel" in opened
        assert 'data-events="/dags/grouped/events?runs=25&amp;expand=stage"' in opened
        fragment = (await http.get("/dags/grouped/grid?expand=stage&expand=stage.inner")).text
        assert 'data-task="stage.inner.deep" data-state="failed"' in fragment
        assert ">deep</th>" in fragment


async def test_graph_draws_a_collapsed_group_as_one_node_that_opens(ui_server: UiServer) -> None:
    now = ui_server.clock()
    fileloc = ui_server.home / "grouped.py"
    await store_dags(ui_server.db, fileloc, [grouped_dag(fileloc)], now=now)
    await add_runs(ui_server.db, "grouped", ["running"], now=now)
    await add_ti(ui_server.db, "grouped", "manual__0", "stage.first", state="running")
    node = re.compile(r'<rect class="[\w -]+" data-task="([\w.]+)" data-state="(\w+)"')
    async with signed_in(ui_server, Role.VIEWER) as http:
        page = (await http.get("/dags/grouped/graph")).text
        assert node.findall(page) == [("start", "none"), ("stage", "running")]
        assert 'href="/dags/grouped/graph?&amp;expand=stage"' in page
        assert 'data-events="/dags/grouped/events?runs=1"' in page
        opened = (await http.get("/dags/grouped/graph?run_id=manual__0&expand=stage")).text
        assert node.findall(opened) == [
            ("start", "none"),
            ("stage.first", "running"),
            ("stage.inner", "none"),
        ]
        assert "events?run_id=manual__0&amp;expand=stage" in opened
        # The open group is listed with a link that closes it.
        assert 'href="/dags/grouped/graph?run_id=manual__0" aria-expanded="true">▾ stage' in opened


async def test_the_grid_follows_a_new_version_of_the_dag(ui_server: UiServer) -> None:
    # The pages keep what they made of a DAG version; a new version is read afresh.
    now = ui_server.clock()
    fileloc = ui_server.home / "grouped.py"
    await store_dags(ui_server.db, fileloc, [grouped_dag(fileloc)], now=now)
    async with signed_in(ui_server, Role.VIEWER) as http:
        assert "stage" in (await http.get("/dags/grouped")).text
        with DAG("grouped", schedule=None, start_date=datetime(2026, 1, 1)) as changed:
            EmptyOperator(task_id="start") >> EmptyOperator(task_id="renamed")
        changed.fileloc = str(fileloc)
        await store_dags(ui_server.db, fileloc, [changed], now=now)
        page = (await http.get("/dags/grouped")).text
        assert re.findall(r'<th class="task" scope="row">(\w+)</th>', page) == ["start", "renamed"]
        assert "group-row" not in page
