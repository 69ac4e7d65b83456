"""`/api/v2/monitor/health` and `/api/v2/version` on a real server and a real database."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
from sqlalchemy import insert

from airflow_sc import __version__
from airflow_sc.api import ApiContext, serve_api
from airflow_sc.config import load_settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import job
from airflow_sc.runtime import Shutdown
from airflow_sc.testing import open_service_group

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


@pytest.fixture
def shutdown() -> Shutdown:
    return Shutdown()


@pytest.fixture
async def client(db: Database, shutdown: Shutdown, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    ctx = ApiContext(settings=settings, db=db, shutdown=shutdown, clock=lambda: NOW)
    async with open_service_group() as tg:
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        async with httpx.AsyncClient(base_url=endpoint.url) as http:
            yield http


async def add_job(db: Database, job_type: str, beat: datetime, state: str = "running") -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(job).values(
                job_type=job_type, state=state, latest_heartbeat=beat, start_date=beat
            )
        )

    await db.run(body)


async def test_health_of_a_fresh_deployment(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/monitor/health")
    assert response.status_code == 200
    assert response.json() == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": None, "latest_scheduler_heartbeat": None},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
    }


async def test_health_reports_latest_heartbeats(client: httpx.AsyncClient, db: Database) -> None:
    await add_job(db, "SchedulerJob", NOW - timedelta(minutes=30))
    await add_job(db, "SchedulerJob", NOW - timedelta(seconds=3))
    await add_job(db, "TriggererJob", NOW - timedelta(minutes=10))
    await add_job(db, "DagProcessorJob", NOW, state="success")  # finished jobs do not count
    body = (await client.get("/api/v2/monitor/health")).json()
    assert body["scheduler"]["status"] == "healthy"
    beat = datetime.fromisoformat(body["scheduler"]["latest_scheduler_heartbeat"])
    assert beat == NOW - timedelta(seconds=3)
    assert body["triggerer"]["status"] == "unhealthy"  # older than heartbeat_timeout
    assert body["dag_processor"]["status"] is None


async def test_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/version")
    assert response.json() == {"version": __version__, "git_version": None}


async def test_writes_get_503_while_draining_reads_still_work(
    client: httpx.AsyncClient, shutdown: Shutdown
) -> None:
    shutdown.request_drain("SIGTERM", grace=30)
    refused = await client.post("/api/v2/dags/example/dagRuns", json={})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert "shutting down" in refused.json()["detail"]
    assert (await client.get("/api/v2/monitor/health")).status_code == 200


async def test_writes_get_503_while_the_database_is_unreachable_reads_still_try(
    client: httpx.AsyncClient, db: Database
) -> None:
    # What the retry loop records when a connection is refused (tests/db/test_outage.py
    # drives it with a real stopped server).
    db.reachability.record_failure(anyio.current_time(), "ConnectionRefusedError")
    refused = await client.post("/api/v2/dags/example/dagRuns", json={})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json() == {"detail": "the metadata database is unreachable; retry later"}
    # A read still tries: here the database answers, so the health route reports it
    # healthy and the next write is served again.
    assert (await client.get("/api/v2/monitor/health")).json()["metadatabase"] == {
        "status": "healthy"
    }
    assert db.reachability.reachable
    accepted = await client.post("/api/v2/dags/example/dagRuns", json={})
    assert accepted.status_code == 401  # past the guard: the route wants a token


async def test_unknown_route_is_404_with_detail(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.postgres
async def test_database_outage_is_reported_not_raised(
    fresh_postgres_url: str, tmp_path, anyio_backend: str
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from airflow_sc.db.schema import migrate

    await migrate(fresh_postgres_url)
    # Port 0: a fixed port collides with any other server on the machine.
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    async with open_database(fresh_postgres_url) as database, open_service_group() as tg:
        ctx = ApiContext(settings=settings, db=database, clock=lambda: NOW)
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        await add_job(database, "SchedulerJob", NOW - timedelta(seconds=2))
        async with httpx.AsyncClient(base_url=endpoint.url) as http:
            before = (await http.get("/api/v2/monitor/health")).json()
        assert before["scheduler"]["status"] == "healthy"
        name = make_url(fresh_postgres_url).database
        admin = make_url(fresh_postgres_url).set(database="postgres").render_as_string(False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        async with httpx.AsyncClient(base_url=endpoint.url) as http:
            response = await http.get("/api/v2/monitor/health")
        assert response.status_code == 200
        body = response.json()
        assert body["metadatabase"] == {"status": "unhealthy"}
        # A scheduler cannot work without its database: unhealthy, with its last heartbeat.
        assert body["scheduler"] == {
            "status": "unhealthy",
            "latest_scheduler_heartbeat": (NOW - timedelta(seconds=2)).isoformat(),
        }
        assert body["triggerer"]["status"] is None  # never seen
