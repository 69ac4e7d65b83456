"""Nothing invalid is stored, and nothing stored breaks a read (issue [2-2], item 2).

Requests: bodies past `api.max_request_body_size` get 413 (by Content-Length, and by count
when streamed without one); bodies nested past `api.max_request_json_depth`, NaN, and NUL
characters or unpaired surrogates anywhere in a body, a path or a query get 400 with the
reason, and nothing is written. Run ids follow Airflow's rule. Rows already stored with odd
content (written around the API, as older versions could) are still served by every read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, variable
from airflow_sc.domain.json_values import TOO_DEEP_NOTE
from airflow_sc.runtime import Shutdown
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.testing import open_service_group
from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer, FakeClock
from tests.api.test_dag_run_writes import seed_etl
from tests.api.test_dag_runs_rows import add_run, add_ti, add_xcom

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

RUNS = "/api/v2/dags/etl/dagRuns"
#: The runs `seed_etl` stores.
SEEDED_RUNS = {"done", "broken", "busy"}


def nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


async def stored_run_ids(db: Database) -> set[str]:
    async def body(tx: Transaction) -> set[str]:
        return {row.run_id for row in await tx.execute(select(dag_run.c.run_id))}

    return await db.run(body, write=False)


async def stored_variable_keys(db: Database) -> set[str]:
    async def body(tx: Transaction) -> set[str]:
        return {row.key for row in await tx.execute(select(variable.c.key))}

    return await db.run(body, write=False)


def raw_json(text: str) -> dict[str, Any]:
    """`httpx` arguments sending `text` as it is (httpx cannot encode a lone surrogate)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


@pytest.fixture
async def etl(api_server: ApiServer, tmp_path: Path) -> ApiServer:
    await seed_etl(api_server, tmp_path)
    return api_server


async def test_a_trigger_nested_400_levels_deep_is_refused_and_stores_nothing(
    etl: ApiServer, client: httpx.AsyncClient
) -> None:
    answer = await client.post(RUNS, json={"logical_date": None, "conf": nested(400)})
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("body.conf.a.a.a")  # where it goes too deep
    assert detail.endswith(": nested deeper than 64 levels")
    assert await stored_run_ids(etl.db) == SEEDED_RUNS
    for path in (RUNS, "/api/v2/dags/~/dagRuns"):
        listed = await client.get(path)
        assert listed.status_code == 200
        assert {r["dag_run_id"] for r in listed.json()["dag_runs"]} == SEEDED_RUNS

    # Deep enough for any real conf is fine.
    ok = await client.post(RUNS, json={"logical_date": None, "conf": nested(60)})
    assert ok.status_code == 200
    assert ok.json()["conf"] == nested(60)


async def test_text_with_nul_or_a_lone_surrogate_is_refused_everywhere(
    etl: ApiServer, client: httpx.AsyncClient
) -> None:
    surrogate_value = await client.post(
        "/api/v2/variables", **raw_json('{"key": "s", "value": "x\\ud800y"}')
    )
    assert surrogate_value.status_code == 400
    assert surrogate_value.json() == {
        "detail": "body.value: contains an unpaired surrogate (not valid Unicode text)"
    }
    nul_key = await client.post("/api/v2/variables", json={"key": "a\x00b", "value": "x"})
    assert nul_key.status_code == 400
    assert nul_key.json() == {"detail": "body.key: contains a NUL character"}
    nested_key = await client.post(
        "/api/v2/variables", **raw_json('{"key": "k", "value": {"list": [{"\\udc00": 1}]}}')
    )
    assert nested_key.status_code == 400
    assert (
        "body.value.list[0]: key '\\udc00' contains an unpaired surrogate"
        in (nested_key.json()["detail"])
    )
    assert await stored_variable_keys(etl.db) == set()

    nul_run_id = await client.post(RUNS, json={"logical_date": None, "dag_run_id": "r\x00"})
    assert nul_run_id.status_code == 400
    assert nul_run_id.json()["detail"] == "body.dag_run_id: contains a NUL character"
    assert await stored_run_ids(etl.db) == SEEDED_RUNS

    # Path and query parameters, and form fields, are checked the same way.
    in_path = await client.get("/api/v2/variables/a%00b")
    assert in_path.status_code == 400
    assert in_path.json() == {"detail": "URL path: contains a NUL character"}
    in_query = await client.get(RUNS, params={"run_id_pattern": "a\x00"})
    assert in_query.status_code == 400
    assert in_query.json() == {
        "detail": "query parameter 'run_id_pattern': contains a NUL character"
    }
    in_form = await client.post("/auth/token", data={"username": "admin\x00", "password": "x"})
    assert in_form.status_code == 400
    assert in_form.json() == {"detail": "form 'username': contains a NUL character"}


async def test_nan_is_refused_and_what_is_not_json_keeps_its_422(
    etl: ApiServer, client: httpx.AsyncClient
) -> None:
    nan = await client.post(RUNS, **raw_json('{"logical_date": null, "conf": {"x": NaN}}'))
    assert nan.status_code == 400
    assert nan.json() == {"detail": "body: NaN and Infinity are not JSON numbers"}
    broken = await client.post(RUNS, **raw_json('{"logical_date": '))
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    # A surrogate encoded as UTF-8 bytes (not valid UTF-8; Python's JSON decoder lets it
    # through as a surrogate): refused as one, never stored.
    not_utf8 = await client.post(
        "/api/v2/variables",
        content=b'{"key": "k", "value": "\xed\xa0\x80"}',
        headers={"content-type": "application/json"},
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json() == {
        "detail": "body.value: contains an unpaired surrogate (not valid Unicode text)"
    }
    assert await stored_variable_keys(etl.db) == set()
    assert await stored_run_ids(etl.db) == SEEDED_RUNS


async def test_run_ids_follow_airflows_pattern_and_length(
    etl: ApiServer, client: httpx.AsyncClient
) -> None:
    huge = await client.post(RUNS, json={"logical_date": None, "dag_run_id": "x" * 10_000})
    assert huge.status_code == 400
    assert huge.json() == {"detail": "The run_id is 10000 characters long; at most 250 fit"}
    slash = await client.post(RUNS, json={"logical_date": None, "dag_run_id": "a/b"})
    assert slash.status_code == 400
    assert slash.json()["detail"].startswith(
        "The run_id provided 'a/b' does not match regex pattern '^[A-Za-z0-9_.~:+-]+$'"
    )
    newline = await client.post(RUNS, json={"logical_date": None, "dag_run_id": "ok\n"})
    assert newline.status_code == 400  # `$` would let a trailing newline through
    assert newline.json()["detail"] == "The run_id 'ok\\n' contains a control character"
    assert await stored_run_ids(etl.db) == SEEDED_RUNS

    longest = "r" * 250
    made = await client.post(RUNS, json={"logical_date": None, "dag_run_id": longest})
    assert made.status_code == 200
    assert (await client.get(f"{RUNS}/{longest}")).json()["dag_run_id"] == longest
    # ... and its tries can write their logs (`run_id=` + 250 characters is past NAME_MAX).
    path = try_log_path(
        etl.ctx.settings.base_log_folder, dag_id="etl", run_id=longest, task_id="t", try_number=1
    )
    path.parent.mkdir(parents=True)
    path.write_text("written")
    assert path.parent.parent.name.startswith("run_id=rrr")


async def post_chunked(url: str, path: str, headers: dict[str, str], *, chunks: int) -> bytes:
    """POST `chunks` chunks of 1000 bytes without ending the body; the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", "transfer-encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join([*lines, "content-type: application/json"]) + "\r\n\r\n").encode()
    async with await anyio.connect_tcp(host, int(port)) as stream:
        await stream.send(head + b'3e8\r\n{"conf": "' + b"x" * 990 + b"\r\n")
        try:
            for _ in range(chunks - 1):
                await stream.send(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
        except (anyio.BrokenResourceError, OSError):
            pass  # the server answered and closed: read what it said
        answer = b""
        with anyio.fail_after(10):
            while True:
                try:
                    answer += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    return answer


@pytest.fixture
async def small_limits(
    api_db: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[ApiServer]:
    """A server with a 4 KiB body limit, depth 3 and a stricter run id pattern."""
    settings = load_settings(
        {
            "AIRFLOW_SC_HOME": str(tmp_path / "home"),
            "AIRFLOW_SC__API__PORT": "0",
            "AIRFLOW_SC__API__MAX_REQUEST_BODY_SIZE": "4096",
            "AIRFLOW_SC__API__MAX_REQUEST_JSON_DEPTH": "3",
            "AIRFLOW_SC__SCHEDULER__ALLOWED_RUN_ID_PATTERN": "^team_[a-z]+$",
        },
        cwd=tmp_path,
    )
    ctx = await prepare_context(
        ApiContext(settings=settings, db=api_db, shutdown=Shutdown(), clock=clock)
    )
    async with open_service_group() as tg:
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        server = ApiServer(endpoint.url, ctx, clock)
        await seed_etl(server, tmp_path)
        yield server


async def test_the_limits_are_settings(small_limits: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=small_limits.url) as anonymous:
        # Refused before anything past the limit is read, credentials or not.
        declared = await anonymous.post(RUNS, json={"conf": {"blob": "x" * 5000}})
        assert declared.status_code == 413
        assert declared.json() == {
            "detail": "Request body is larger than 4096 bytes, "
            "the limit set by api.max_request_body_size"
        }

    headers = small_limits.headers(Role.ADMIN)
    async with httpx.AsyncClient(base_url=small_limits.url, headers=headers) as http:
        # No Content-Length: counted as it arrives, answered once past the limit while
        # the client is still sending (the rest is never read).
        streamed = await post_chunked(small_limits.url, RUNS, headers, chunks=5)
        assert streamed.startswith(b"HTTP/1.1 413 ")
        assert streamed.endswith(b'the limit set by api.max_request_body_size"}')
        deep = await http.post(RUNS, json={"logical_date": None, "conf": nested(3)})
        assert deep.status_code == 400
        assert deep.json()["detail"].endswith("nested deeper than 3 levels")
        other = await http.post(RUNS, json={"logical_date": None, "dag_run_id": "nightly"})
        assert other.status_code == 400
        assert "does not match regex pattern '^team_[a-z]+$'" in other.json()["detail"]
        # An id of the form Airflow generates is accepted whatever the pattern.
        generated = "manual__2026-01-02T03:04:05+00:00"
        for run_id in ("team_data", generated):
            made = await http.post(RUNS, json={"logical_date": None, "dag_run_id": run_id})
            assert made.status_code == 200, made.text
    assert await stored_run_ids(small_limits.db) == SEEDED_RUNS | {"team_data", generated}


async def test_rows_stored_around_the_api_are_still_served(
    etl: ApiServer, client: httpx.AsyncClient, database_kind: str
) -> None:
    """Documents nested past what a response can carry, lone surrogates (which SQLite's JSON
    keeps as escapes; PostgreSQL refuses them) and a huge value, written straight to the
    database, as an older version could have: every read that shows them answers 200."""
    odd: dict[str, Any] = {"deep": nested(400), "big": "x" * 300_000}
    if database_kind == "sqlite":
        odd["text\udc00"] = ["lone \ud800 surrogate"]
    pk = await add_run(etl.db, "etl", "odd", conf=odd, offset_hours=5)
    await add_ti(etl.db, "etl", "odd", "extract", rendered_fields=odd)
    await add_xcom(etl.db, pk, "etl", "odd", "extract", "return_value", odd)

    def shown(value: dict[str, Any]) -> None:
        assert value["big"] == "x" * 300_000
        assert json.dumps(value).count('"a"') == 199  # cut where a response cannot go on
        assert TOO_DEEP_NOTE in json.dumps(value)
        if database_kind == "sqlite":
            assert value["text\ufffd"] == ["lone \ufffd surrogate"]

    for path in (RUNS, "/api/v2/dags/~/dagRuns"):
        listed = await client.get(path, params={"run_id_pattern": "odd"})
        assert listed.status_code == 200, listed.text
        shown(listed.json()["dag_runs"][0]["conf"])
    batch = await client.post("/api/v2/dags/~/dagRuns/list", json={"dag_ids": ["etl"]})
    assert batch.status_code == 200
    assert len(batch.json()["dag_runs"]) == 4
    one = await client.get(f"{RUNS}/odd")
    assert one.status_code == 200
    shown(one.json()["conf"])

    ti = await client.get(f"{RUNS}/odd/taskInstances/extract")
    assert ti.status_code == 200
    shown(ti.json()["rendered_fields"])
    for listing in (
        await client.get(f"{RUNS}/odd/taskInstances"),
        await client.get("/api/v2/dags/~/dagRuns/~/taskInstances"),
        await client.post("/api/v2/dags/~/dagRuns/~/taskInstances/list", json={}),
    ):
        assert listing.status_code == 200, listing.text
    xcoms = f"{RUNS}/odd/taskInstances/extract/xcomEntries"
    assert (await client.get(xcoms)).status_code == 200
    for params in ({}, {"deserialize": "true"}, {"stringify": "true"}):
        entry = await client.get(f"{xcoms}/return_value", params=params)
        assert entry.status_code == 200, (params, entry.text)
    shown((await client.get(f"{xcoms}/return_value")).json()["value"])
