"""The list cache (`api.list_cache`) on a real server: answers of `GET /dags` and
`GET /dags/{dag_id}/dagRuns` are replayed until a change may alter them, never to a
caller the routes would refuse, and a write is visible on the next read.

The server is built as `airflow-sc run` builds it: the cache subscribed to the process's
`ChangeFeed`, operator actions announcing to that feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import insert, select, update

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.api.list_cache import Answer, ListCache, scope_of
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, user
from airflow_sc.runtime import Shutdown
from airflow_sc.scheduler.changes import Change, ChangeFeed, Note
from airflow_sc.testing import open_service_group
from tests.api.conftest import START, ApiServer, FakeClock
from tests.api.dag_seeds import add_runs, example_dag, store_dags

pytestmark = pytest.mark.anyio


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class CachedServer(ApiServer):
    feed: ChangeFeed
    cache: ListCache
    ticks: Ticks


@pytest.fixture
async def cached_server(
    api_db: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[CachedServer]:
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path / "home"), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    feed = ChangeFeed()
    ticks = Ticks()
    cache = ListCache(max_age=settings.api.list_cache_max_age, now=ticks)
    ctx = await prepare_context(
        ApiContext(
            settings=settings,
            db=api_db,
            shutdown=Shutdown(),
            clock=clock,
            wake=feed.operator_changed,
            list_cache=cache,
        )
    )
    await store_dags(
        api_db,
        tmp_path / "etl.py",
        [example_dag("etl", tmp_path / "etl.py", tags=["a"])],
        now=START,
        paused=True,
    )
    await add_runs(api_db, "etl", ["success"], now=START)
    with feed.subscribe(cache.hear):
        async with open_service_group() as tg:
            endpoint = await tg.start(
                lambda task_status: serve_api(
                    ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
                )
            )
            yield CachedServer(endpoint.url, ctx, clock, feed, cache, ticks)


@pytest.fixture
async def admin(cached_server: CachedServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=cached_server.url, headers=cached_server.headers(Role.ADMIN)
    ) as http:
        yield http


async def run_ids(http: httpx.AsyncClient) -> list[str]:
    response = await http.get("/api/v2/dags/etl/dagRuns", params={"order_by": "run_after"})
    assert response.status_code == 200, response.text
    return [run["dag_run_id"] for run in response.json()["dag_runs"]]


async def run_pk(db: Database, run_id: str) -> int:
    async def body(tx: Transaction) -> int:
        rows = await tx.execute(select(dag_run.c.id).where(dag_run.c.run_id == run_id))
        return int(rows.scalar())

    return await db.run(body)


async def test_a_triggered_run_is_listed_at_once(
    cached_server: CachedServer, admin: httpx.AsyncClient
) -> None:
    assert await run_ids(admin) == ["manual__0"]
    assert await run_ids(admin) == ["manual__0"]
    assert len(cached_server.cache) == 1
    trigger = await admin.post(
        "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "fresh", "logical_date": None}
    )
    assert trigger.status_code == 200, trigger.text
    assert await run_ids(admin) == ["manual__0", "fresh"]


async def test_a_write_that_announces_nothing_is_visible_on_the_next_read(
    cached_server: CachedServer, admin: httpx.AsyncClient
) -> None:
    await run_ids(admin)
    patched = await admin.patch("/api/v2/dags/etl/dagRuns/manual__0", json={"note": "checked"})
    assert patched.status_code == 200, patched.text
    listed = await admin.get("/api/v2/dags/etl/dagRuns")
    assert [run["note"] for run in listed.json()["dag_runs"]] == ["checked"]


async def test_changes_announced_by_other_components_drop_the_answers(
    cached_server: CachedServer, admin: httpx.AsyncClient
) -> None:
    db = cached_server.db
    assert (await admin.get("/api/v2/dags")).json()["dags"][0]["is_paused"] is True
    await run_ids(admin)

    # What the scheduler writes, then announces once committed.
    async def finish(tx: Transaction) -> None:
        await tx.execute(update(dag_run).where(dag_run.c.run_id == "manual__0").values(note="x"))

    await db.run(finish)
    # A try's end alone changes nothing these routes show: the answers stay.
    cached_server.feed.tis_finished([await run_pk(db, "manual__0")])
    assert len(cached_server.cache) == 2
    # The scheduler moved the run along: the run list goes, the DAG list (no run shown) stays.
    cached_server.feed.runs_progressed([await run_pk(db, "manual__0")])
    assert len(cached_server.cache) == 1
    listed = await admin.get("/api/v2/dags/etl/dagRuns")
    assert listed.json()["dag_runs"][0]["note"] == "x"

    # A DAG paused or unpaused by another process (its note heard by this one's feed).
    async def unpause(tx: Transaction) -> None:
        from airflow_sc.db.models import dag

        await tx.execute(update(dag).where(dag.c.dag_id == "etl").values(is_paused=False))

    await db.run(unpause)
    cached_server.feed.dag_changed()
    assert (await admin.get("/api/v2/dags")).json()["dags"][0]["is_paused"] is False


async def test_a_cached_answer_is_never_given_to_a_caller_the_route_refuses(
    cached_server: CachedServer, admin: httpx.AsyncClient
) -> None:
    url = cached_server.url
    assert (await admin.get("/api/v2/dags")).status_code == 200
    assert len(cached_server.cache) == 1
    async with httpx.AsyncClient(base_url=url) as anonymous:
        assert (await anonymous.get("/api/v2/dags")).status_code == 401
        forged = {"Authorization": "Bearer " + cached_server.token(Role.ADMIN)[:-4] + "AAAA"}
        assert (await anonymous.get("/api/v2/dags", headers=forged)).status_code == 401
    # Each role has its own answers.
    viewer = cached_server.headers(Role.VIEWER)
    async with httpx.AsyncClient(base_url=url, headers=viewer) as http:
        assert (await http.get("/api/v2/dags")).status_code == 200
    assert len(cached_server.cache) == 2

    # The viewer is deleted: once its stamp is rechecked, its token gets nothing.
    async def delete_viewer(tx: Transaction) -> None:
        await tx.execute(user.delete().where(user.c.username == "viewer"))

    await cached_server.db.run(delete_viewer)
    cached_server.clock.advance(60)
    async with httpx.AsyncClient(base_url=url, headers=viewer) as http:
        assert (await http.get("/api/v2/dags")).status_code == 401


async def test_answers_expire_after_the_max_age(
    cached_server: CachedServer, admin: httpx.AsyncClient
) -> None:
    await run_ids(admin)
    assert len(cached_server.cache) == 1

    # A run written by a process that announces nothing: seen once the answer expires.
    async def insert_run(tx: Transaction) -> None:
        await tx.execute(
            insert(dag_run).values(
                dag_id="etl", run_id="elsewhere", state="queued", run_type="manual", run_after=START
            )
        )

    await cached_server.db.run(insert_run)
    assert await run_ids(admin) == ["manual__0"]
    cached_server.ticks.now += cached_server.cache.max_age
    assert sorted(await run_ids(admin)) == ["elsewhere", "manual__0"]


def test_an_answer_computed_across_an_invalidation_is_not_kept() -> None:
    ticks = Ticks()
    cache = ListCache(max_age=2.0, now=ticks)
    key = ("/api/v2/dags", b"", Role.ADMIN)
    scope = scope_of(*key[:2])
    answer = Answer(200, [], b"{}", stored_at=ticks())
    started = cache.stamp(scope)
    cache.invalidate()
    cache.put(key, answer, scope, started)
    assert cache.get(key) is None
    cache.put(key, answer, scope, cache.stamp(scope))
    assert cache.get(key) == answer
    ticks.now += 2.0
    assert cache.get(key) is None


def test_run_changes_drop_only_the_answers_showing_those_runs() -> None:
    ticks = Ticks()
    cache = ListCache(max_age=2.0, now=ticks)
    answer = Answer(200, [], b"{}", stored_at=ticks())
    keys = {
        "dags": ("/api/v2/dags", b"limit=50"),
        "dags_by_run_state": ("/api/v2/dags", b"last_dag_run_state=failed"),
        "etl_runs": ("/api/v2/dags/etl/dagRuns", b""),
        "other_runs": ("/api/v2/dags/other/dagRuns", b""),
        "all_runs": ("/api/v2/dags/~/dagRuns", b""),
    }

    def fill() -> None:
        for path, query in keys.values():
            scope = scope_of(path, query)
            cache.put((path, query, Role.ADMIN), answer, scope, cache.stamp(scope))

    def kept() -> set[str]:
        return {name for name, (p, q) in keys.items() if cache.get((p, q, Role.ADMIN))}

    fill()
    assert kept() == set(keys)
    # A run this cache cannot place: every answer showing runs goes.
    cache.hear(Note.of([Change.RUNS_PROGRESSED], [7]))
    assert kept() == {"dags"}
    assert cache.unplaced == {7}
    cache.place_runs({7: "etl"}, {7})
    fill()
    # Now run 7 is known to be etl's: other DAGs' run lists stay.
    cache.hear(Note.of([Change.RUNS_PROGRESSED, Change.TIS_FINISHED], [7]))
    assert kept() == {"dags", "other_runs"}
    # A try's end alone changes nothing shown.
    fill()
    cache.hear(Note.of([Change.TIS_FINISHED], [7]))
    assert kept() == set(keys)
    # "Some runs" (no list), a DAG change, lost notes: everything goes.
    for note in (
        Note.of([Change.RUNS_PROGRESSED], None),
        Note.of([Change.DAG_CHANGED]),
        Note.of([Change.ANY], None),
    ):
        fill()
        cache.hear(note)
        assert kept() == set()


async def test_one_request_computes_a_missing_answer_the_others_wait(
    api_db: Database, clock: FakeClock
) -> None:
    from starlette.types import Message, Receive, Scope, Send

    from airflow_sc.api.list_cache import CacheLists
    from airflow_sc.auth import UserStamps, VerifiedTokens, credential_stamp, issue_token
    from tests.api.conftest import seeded_hash

    key = "s" * 32
    calls: list[str] = []
    entered, release = anyio.Event(), anyio.Event()

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        entered.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"dags": []}'})

    app = CacheLists(
        route,
        cache=ListCache(max_age=2.0),
        db=api_db,
        signing_key=key,
        tokens=VerifiedTokens(),
        stamps=UserStamps(),
        clock=clock,
    )
    token = issue_token(
        key=key,
        username="viewer",
        role=Role.VIEWER,
        now=clock(),
        lifetime=ctx_lifetime(),
        stamp=credential_stamp("viewer", seeded_hash(Role.VIEWER)),
    )
    bodies: list[bytes] = []

    async def get() -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                bodies.append(message["body"])

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v2/dags",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
        }
        await app(scope, receive, send)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(get)
            await entered.wait()
            release.set()
    assert calls == ["/api/v2/dags"]
    assert bodies == [b'{"dags": []}'] * 5


def ctx_lifetime() -> timedelta:
    return timedelta(hours=1)


@pytest.mark.postgres
async def test_a_database_out_of_reach_gives_503_not_500(
    fresh_postgres_url: str, tmp_path: Path, anyio_backend: str
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from airflow_sc.db.engine import open_database
    from airflow_sc.db.schema import migrate
    from tests.api.conftest import seed_role_users

    await migrate(fresh_postgres_url)
    clock = FakeClock()
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    cache = ListCache(max_age=2.0)
    async with open_database(fresh_postgres_url) as db, open_service_group() as tg:
        await seed_role_users(db)
        ctx = await prepare_context(
            ApiContext(settings=settings, db=db, clock=clock, list_cache=cache)
        )
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        name = make_url(fresh_postgres_url).database
        admin_url = make_url(fresh_postgres_url).set(database="postgres")
        with psycopg.connect(admin_url.render_as_string(False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        # A run to place (a database read of the cache's own) and a stamp to recheck.
        cache.hear(Note.of([Change.RUNS_PROGRESSED], [1]))
        clock.advance(60)
        headers = {"Authorization": f"Bearer {ctx_token(ctx, clock)}"}
        async with httpx.AsyncClient(base_url=endpoint.url, headers=headers) as http:
            for path in ("/api/v2/dags", "/api/v2/dags/etl/dagRuns"):
                response = await http.get(path)
                assert response.status_code == 503, (path, response.text)
        tg.cancel_scope.cancel()


def ctx_token(ctx: ApiContext, clock: FakeClock) -> str:
    from tests.api.conftest import role_token

    return role_token(ctx, Role.ADMIN, clock())
