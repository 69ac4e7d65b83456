"""A try's log in the UI over HTTP: its page and the panel (lines escaped, per try), the
download, and the stream of lines written while the try runs, ending with the try."""

from __future__ import annotations

import json
import re

import anyio
import httpx
import pytest
from sqlalchemy import update

from airflow_sc.api.routes.logs import log_path
from airflow_sc.auth import Role
from airflow_sc.db import Transaction
from airflow_sc.db.models import task_instance
from airflow_sc.ui.session import SESSION_COOKIE
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs
from tests.api.test_dag_runs_rows import add_ti, add_try
from tests.ui.conftest import UiServer
from tests.ui.test_pages import EventReader, seeded, signed_in

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

__all__ = ["seeded"]  # the fixture, imported

PAYLOAD = "<script>window.__xss=1</script>"
LOG = "/dags/etl_daily/runs/manual__0/tasks/extract/log"


def write_log(server: UiServer, try_number: int, *events: str, append: bool = False) -> None:
    path = log_path(
        server.ctx.settings.base_log_folder, "etl_daily", "manual__0", "extract", -1, try_number
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(
        json.dumps({"timestamp": "2026-01-01T00:00:00Z", "level": "info", "event": e}) + "\n"
        for e in events
    )
    with path.open("a" if append else "w") as file:
        file.write(lines)


@pytest.fixture
async def two_tries(seeded: UiServer) -> UiServer:
    """extract in manual__0: try 1 failed, try 2 running, each with a log."""
    await add_runs(seeded.db, "etl_daily", ["running"], now=seeded.clock(), started=True)
    await add_ti(seeded.db, "etl_daily", "manual__0", "extract", state="running", try_number=2)
    await add_try(seeded.db, "etl_daily", "manual__0", "extract", state="failed", try_number=1)
    write_log(seeded, 1, "first try " + PAYLOAD, "boom")
    write_log(seeded, 2, "second try starts")
    return seeded


def lines_of(html: str) -> list[str]:
    return re.findall(r'<span class="line">(.*?)\n</span>', html)


async def test_the_log_page_shows_each_try_escaped(two_tries: UiServer) -> None:
    async with signed_in(two_tries, Role.VIEWER) as http:
        first = await http.get(LOG, params={"try_number": 1})
        assert first.status_code == 200
        assert lines_of(first.text) == [
            "2026-01-01T00:00:00Z info first try &lt;script&gt;window.__xss=1&lt;/script&gt;",
            "2026-01-01T00:00:00Z info boom",
        ]
        assert "<script>window" not in first.text
        assert 'data-more="false"' in first.text  # a finished try: nothing to stream
        assert 'href="/dags/etl_daily/runs/manual__0/tasks/extract/log/download?try_number=1"' in (
            first.text
        )
        # Without a try number: the current try, which runs, so the page streams the rest.
        current = await http.get(LOG)
        assert lines_of(current.text) == ["2026-01-01T00:00:00Z info second try starts"]
        assert 'data-more="true"' in current.text
        size = len(b'{"timestamp": "2026-01-01T00:00:00Z", "level": "info", "event": "x"}\n')
        size += len("second try starts") - 1
        assert f"try_number=2&amp;position={size}" in current.text
        # The task instance panel of the DAG page holds the same view.
        panel = await http.get(
            "/dags/etl_daily", params={"run_id": "manual__0", "task_id": "extract", "try_number": 1}
        )
        assert "first try &lt;script&gt;" in panel.text
        assert (await http.get("/dags/etl_daily/runs/manual__0/tasks/nope/log")).status_code == 404
    async with httpx.AsyncClient(base_url=two_tries.url) as anonymous:
        assert (await anonymous.get(LOG)).status_code == 303


async def test_the_download_is_the_whole_log_as_text(two_tries: UiServer) -> None:
    async with signed_in(two_tries, Role.VIEWER) as http:
        answer = await http.get(LOG + "/download", params={"try_number": 1})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.headers["content-disposition"].startswith(
            'attachment; filename="etl_daily__manual__0__extract__1.log"'
        )
        assert answer.text == (
            f"2026-01-01T00:00:00Z info first try {PAYLOAD}\n2026-01-01T00:00:00Z info boom\n"
        )
        missing = await http.get(LOG + "/download", params={"try_number": 3})
        assert missing.status_code == 404


async def test_the_stream_sends_new_lines_until_the_try_ends(two_tries: UiServer) -> None:
    async with signed_in(two_tries, Role.VIEWER) as http:
        page = (await http.get(LOG)).text
    position = int(re.search(r"position=(\d+)", page).group(1))  # type: ignore[union-attr]
    host, port = two_tries.url.removeprefix("http://").split(":")
    cookie = f"{SESSION_COOKIE}={two_tries.token(Role.VIEWER)}"
    target = f"{LOG}/events?try_number=2&position={position}"
    async with await anyio.connect_tcp(host, int(port)) as stream:
        request = f"GET {target} HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
        await stream.send(request.encode())
        events = EventReader(stream)
        with anyio.fail_after(20):
            head = await events.block(b"\r\n\r\n")
            assert head.startswith("HTTP/1.1 200")
            assert "content-type: text/event-stream" in head.lower()
            assert await events.block() == "retry: 2000"
            write_log(two_tries, 2, "working " + PAYLOAD, append=True)
            new = (await events.block()).split("\n")
            assert new[1:] == [
                "event: lines",
                "data: "
                + json.dumps(
                    [f"2026-01-01T00:00:00Z info working {PAYLOAD}"], separators=(",", ":")
                ),
            ]
            assert int(new[0].removeprefix("id: ")) > position

            async def finish(tx: Transaction) -> None:
                await tx.execute(
                    update(task_instance)
                    .where(task_instance.c.task_id == "extract")
                    .values(state="success")
                )

            write_log(two_tries, 2, "done", append=True)
            await two_tries.db.run(finish)
            rest = [await events.block()]
            while not rest[-1].startswith("event: end"):
                rest.append(await events.block())
        sent = [json.loads(block.split("data: ", 1)[1]) for block in rest[:-1]]
        assert [line for lines in sent for line in lines] == ["2026-01-01T00:00:00Z info done"]


async def test_a_reconnecting_stream_continues_after_its_last_event_id(two_tries: UiServer) -> None:
    await _finish_extract(two_tries)
    async with signed_in(two_tries, Role.VIEWER) as http:
        whole = await http.get(LOG + "/events", params={"try_number": 1})
        assert "first try" in whole.text
        assert whole.text.endswith("event: end\ndata: {}\n\n")
        last_id = re.findall(r"^id: (\d+)$", whole.text, re.M)[-1]
        resumed = await http.get(
            LOG + "/events", params={"try_number": 1}, headers={"Last-Event-ID": last_id}
        )
        assert "event: lines" not in resumed.text
        assert resumed.text.endswith("event: end\ndata: {}\n\n")


async def _finish_extract(server: UiServer) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(update(task_instance).values(state="success"))

    await server.db.run(body)


async def test_a_log_longer_than_one_read_streams_its_rest(two_tries: UiServer) -> None:
    await _finish_extract(two_tries)
    line = "x" * 1000
    write_log(two_tries, 1, *[f"{i} {line}" for i in range(1500)])  # about 1.5 MiB
    async with signed_in(two_tries, Role.VIEWER) as http:
        page = await http.get(LOG, params={"try_number": 1})
        shown = lines_of(page.text)
        assert 0 < len(shown) < 1500
        assert 'data-more="true"' in page.text  # a finished try, but more on disk
        position = re.search(r"position=(\d+)", page.text).group(1)  # type: ignore[union-attr]
        rest = await http.get(LOG + "/events", params={"try_number": 1, "position": position})
    sent = [
        json.loads(block.removeprefix("data: "))
        for block in rest.text.split("\n")
        if block.startswith("data: [")
    ]
    streamed = [text for chunk in sent for text in chunk]
    assert len(shown) + len(streamed) == 1500
    assert streamed[-1].endswith(f"1499 {line}")
    assert rest.text.endswith("event: end\ndata: {}\n\n")
