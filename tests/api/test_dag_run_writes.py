"""DAG run writes on a real server: trigger, patch state, clear (and dry run).

The fixtures and helpers at the top (`write_server`, `writer`, `seed_etl`, `run_state`,
`ti_states`) are shared with `test_task_instance_writes.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import select

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, task_instance
from airflow_sc.db.queries import scheduling
from airflow_sc.runtime import Shutdown
from airflow_sc.testing import open_service_group
from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer, FakeClock
from tests.api.dag_seeds import example_dag, store_dags
from tests.api.test_dag_runs_rows import add_run, add_ti


class WakeLog:
    """Records the dag run keys each write woke the scheduler with."""

    def __init__(self) -> None:
        self.calls: list[set[int]] = []

    def __call__(self, run_pks: Collection[int]) -> None:
        self.calls.append(set(run_pks))


@dataclasses.dataclass
class WriteServer(ApiServer):
    wakes: WakeLog = dataclasses.field(default_factory=WakeLog)


@pytest.fixture(name="write_server")
async def write_server_fixture(
    api_db: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[WriteServer]:
    """A real API server (hypercorn, 127.0.0.1 port 0) whose `ctx.wake` is a `WakeLog`."""
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path / "home"), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    wakes = WakeLog()
    ctx = await prepare_context(
        ApiContext(settings=settings, db=api_db, shutdown=Shutdown(), clock=clock, wake=wakes)
    )
    async with open_service_group() as tg:
        endpoint = await tg.start(
            lambda task_status: serve_api(
                ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
            )
        )
        yield WriteServer(endpoint.url, ctx, clock, wakes)


@pytest.fixture(name="writer")
async def writer_fixture(write_server: WriteServer) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `write_server`, as a `user` (the role that may edit runs)."""
    async with httpx.AsyncClient(
        base_url=write_server.url, headers=write_server.headers(Role.USER)
    ) as http:
        yield http


async def seed_etl(server: ApiServer, tmp_path: Path) -> None:
    """DAG `etl` (extract >> load; params api_token: string, n: integer) with runs:

    - `done`: success, extract success, load success
    - `broken`: failed, extract failed, load upstream_failed
    - `busy`: running, extract running, load no state
    """
    await store_dags(
        server.db, tmp_path / "etl.py", [example_dag("etl", tmp_path / "etl.py", tags=[])],
        now=server.clock(),
    )  # fmt: skip

    async def latest(tx: Transaction) -> str:
        return (await scheduling.latest_version_ids(tx, ["etl"]))["etl"]

    version = await server.db.run(latest, write=False)
    runs = {
        "done": ("success", "success", "success"),
        "broken": ("failed", "failed", "upstream_failed"),
        "busy": ("running", "running", None),
    }
    for hours, (run_id, (run_state, extract, load)) in enumerate(runs.items()):
        await add_run(
            server.db, "etl", run_id, state=run_state, offset_hours=hours,
            created_dag_version_id=version,
        )  # fmt: skip
        await add_ti(server.db, "etl", run_id, "extract", state=extract, operator="BashOperator")
        await add_ti(
            server.db, "etl", run_id, "load", state=load, operator="EmptyOperator",
            try_number=0 if load is None else 1,
        )  # fmt: skip


async def run_state(db: Database, dag_id: str, run_id: str) -> tuple[str, int]:
    """(state, clear_number) of a run, read straight from the database."""

    async def body(tx: Transaction) -> tuple[str, int]:
        row = (
            await tx.execute(
                select(dag_run.c.state, dag_run.c.clear_number).where(
                    dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id
                )
            )
        ).one()
        return str(row.state), int(row.clear_number)

    return await db.run(body, write=False)


async def ti_states(db: Database, dag_id: str, run_id: str) -> dict[str, str | None]:
    """task_id -> state of a run's task instances, read straight from the database."""

    async def body(tx: Transaction) -> dict[str, str | None]:
        rows = await tx.execute(
            select(task_instance.c.task_id, task_instance.c.state).where(
                task_instance.c.dag_id == dag_id, task_instance.c.run_id == run_id
            )
        )
        return {row.task_id: row.state for row in rows}

    return await db.run(body, write=False)


pytestmark = pytest.mark.anyio


@pytest.fixture(name="etl")
async def etl_fixture(write_server: WriteServer, tmp_path: Path) -> WriteServer:
    await seed_etl(write_server, tmp_path)
    return write_server


# -- trigger -----------------------------------------------------------------------------


async def test_trigger_creates_a_queued_run_and_wakes_the_scheduler(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post(
        "/api/v2/dags/etl/dagRuns",
        json={"dag_run_id": "by_api", "logical_date": None, "conf": {"n": 7}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dag_run_id"] == "by_api"
    assert body["dag_id"] == "etl"
    assert body["state"] == "queued"
    assert body["run_type"] == "manual"
    assert body["triggered_by"] == "rest_api"
    assert body["triggering_user_name"] == "user"
    assert body["conf"] == {"n": 7}
    assert body["logical_date"] is None
    assert body["queued_at"] == "2026-11-23T12:00:00Z"
    assert (await run_state(etl.db, "etl", "by_api"))[0] == "queued"
    listed = await writer.get("/api/v2/dags/etl/dagRuns/by_api")
    assert listed.json()["state"] == "queued"
    assert len(etl.wakes.calls) == 1


@ONE_BACKEND_PER_DATABASE
async def test_trigger_with_logical_date_gets_airflows_run_id_and_interval(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post(
        "/api/v2/dags/etl/dagRuns", json={"logical_date": "2026-11-01T00:00:00Z"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Airflow 3.3: run_after defaults to the time of the request and names the run.
    assert body["dag_run_id"] == "manual__2026-11-23T12:00:00+00:00"
    assert body["run_after"] == "2026-11-23T12:00:00Z"
    assert body["logical_date"] == "2026-11-01T00:00:00Z"
    assert body["data_interval_end"] is not None
    # The same logical date again is a conflict.
    again = await writer.post(
        "/api/v2/dags/etl/dagRuns",
        json={"dag_run_id": "other", "logical_date": "2026-11-01T00:00:00Z"},
    )
    assert again.status_code == 409


@ONE_BACKEND_PER_DATABASE
async def test_trigger_honours_run_after_data_interval_and_note(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post(
        "/api/v2/dags/etl/dagRuns",
        json={
            "logical_date": "2026-11-01T00:00:00Z",
            "run_after": "2026-11-24T06:00:00Z",
            "data_interval_start": "2026-10-31T00:00:00Z",
            "data_interval_end": "2026-11-01T00:00:00Z",
            "note": "rerun for the audit",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dag_run_id"] == "manual__2026-11-24T06:00:00+00:00"
    assert body["run_after"] == "2026-11-24T06:00:00Z"
    assert (body["data_interval_start"], body["data_interval_end"]) == (
        "2026-10-31T00:00:00Z",
        "2026-11-01T00:00:00Z",
    )
    assert body["note"] == "rerun for the audit"
    stored = await writer.get(f"/api/v2/dags/etl/dagRuns/{body['dag_run_id']}")
    assert stored.json()["note"] == "rerun for the audit"
    # Without a logical date a run has no data interval, even when one is sent (Airflow).
    bare = await writer.post(
        "/api/v2/dags/etl/dagRuns",
        json={
            "logical_date": None,
            "run_after": None,
            "data_interval_start": "2026-10-31T00:00:00Z",
            "data_interval_end": "2026-11-01T00:00:00Z",
        },
    )
    assert bare.status_code == 200, bare.text
    assert bare.json()["run_after"] == "2026-11-23T12:00:00Z"
    assert bare.json()["data_interval_start"] is None
    assert bare.json()["note"] is None


@ONE_BACKEND_PER_DATABASE
async def test_concurrent_triggers_of_one_run_id_give_one_run_and_409s(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    statuses: list[int] = []

    async def trigger() -> None:
        response = await writer.post(
            "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "race", "logical_date": None}
        )
        statuses.append(response.status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(trigger)
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    listed = await writer.get("/api/v2/dags/etl/dagRuns", params={"run_id_pattern": "race"})
    assert listed.json()["total_entries"] == 1


@ONE_BACKEND_PER_DATABASE
async def test_bulk_pause_goes_through_the_action_and_wakes_the_scheduler(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    paused = await writer.patch(
        "/api/v2/dags", params={"dag_id_pattern": "~"}, json={"is_paused": True}
    )
    assert paused.status_code == 200, paused.text
    assert [(d["dag_id"], d["is_paused"]) for d in paused.json()["dags"]] == [("etl", True)]
    assert (await writer.get("/api/v2/dags/etl")).json()["is_paused"] is True
    unpaused = await writer.patch(
        "/api/v2/dags", params={"dag_id_prefix_pattern": "et"}, json={"is_paused": False}
    )
    assert unpaused.json()["dags"][0]["is_paused"] is False
    assert etl.wakes.calls == [set(), set()]
    nothing = await writer.patch(
        "/api/v2/dags", params={"dag_id_pattern": "zzz"}, json={"is_paused": True}
    )
    assert nothing.json() == {"dags": [], "total_entries": 0}
    assert len(etl.wakes.calls) == 2


@ONE_BACKEND_PER_DATABASE
async def test_trigger_rejects_conf_that_breaks_the_params(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post(
        "/api/v2/dags/etl/dagRuns", json={"logical_date": None, "conf": {"n": "many"}}
    )
    assert response.status_code == 400
    assert "n" in response.json()["detail"]
    assert etl.wakes.calls == []
    runs = await writer.get("/api/v2/dags/etl/dagRuns")
    assert runs.json()["total_entries"] == 3


@ONE_BACKEND_PER_DATABASE
async def test_trigger_errors(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    unknown = await writer.post("/api/v2/dags/nope/dagRuns", json={"logical_date": None})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Dag with dag_id: 'nope' not found"}
    duplicate = await writer.post(
        "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "done", "logical_date": None}
    )
    assert duplicate.status_code == 409
    assert "`done`" in duplicate.json()["detail"]
    # logical_date is required (it may be null); unknown fields are refused.
    assert (await writer.post("/api/v2/dags/etl/dagRuns", json={})).status_code == 422
    extra = await writer.post("/api/v2/dags/etl/dagRuns", json={"logical_date": None, "x": 1})
    assert extra.status_code == 422
    half = await writer.post(
        "/api/v2/dags/etl/dagRuns",
        json={"logical_date": None, "data_interval_start": "2026-11-01T00:00:00Z"},
    )
    assert half.status_code == 422


@ONE_BACKEND_PER_DATABASE
async def test_viewer_may_not_trigger(etl: WriteServer) -> None:
    async with httpx.AsyncClient(base_url=etl.url, headers=etl.headers(Role.VIEWER)) as viewer:
        response = await viewer.post("/api/v2/dags/etl/dagRuns", json={"logical_date": None})
    assert response.status_code == 403
    assert etl.wakes.calls == []


# -- patch -------------------------------------------------------------------------------


@ONE_BACKEND_PER_DATABASE
async def test_mark_running_run_failed_fails_and_skips_its_task_instances(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.patch("/api/v2/dags/etl/dagRuns/busy", json={"state": "failed"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "failed"
    assert response.json()["end_date"] == "2026-11-23T12:00:00Z"
    assert await ti_states(etl.db, "etl", "busy") == {"extract": "failed", "load": "skipped"}
    assert len(etl.wakes.calls) == 1


@ONE_BACKEND_PER_DATABASE
async def test_mark_running_run_success_finishes_its_task_instances(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.patch("/api/v2/dags/etl/dagRuns/busy", json={"state": "success"})
    assert response.status_code == 200
    assert response.json()["state"] == "success"
    assert await ti_states(etl.db, "etl", "busy") == {"extract": "success", "load": "success"}


@ONE_BACKEND_PER_DATABASE
async def test_patch_to_queued_requeues_the_run(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.patch("/api/v2/dags/etl/dagRuns/done", json={"state": "queued"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "queued"
    assert body["start_date"] is None
    assert body["end_date"] is None
    assert body["queued_at"] == "2026-11-23T12:00:00Z"
    assert len(etl.wakes.calls) == 1


@ONE_BACKEND_PER_DATABASE
async def test_patch_errors_and_update_mask(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    missing = await writer.patch("/api/v2/dags/etl/dagRuns/nope", json={"state": "failed"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        "The DagRun with dag_id: `etl` and run_id: `nope` was not found"
    )
    bad_state = await writer.patch("/api/v2/dags/etl/dagRuns/done", json={"state": "running"})
    assert bad_state.status_code == 422
    bad_mask = await writer.patch(
        "/api/v2/dags/etl/dagRuns/done", params={"update_mask": "color"}, json={"state": "failed"}
    )
    assert bad_mask.status_code == 400
    # A mask without `state` leaves the state alone.
    masked = await writer.patch(
        "/api/v2/dags/etl/dagRuns/done", params={"update_mask": "note"}, json={"state": "failed"}
    )
    assert masked.status_code == 200
    assert masked.json()["state"] == "success"
    assert etl.wakes.calls == []


@ONE_BACKEND_PER_DATABASE
async def test_patch_note_is_stored_returned_and_removed(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    url = "/api/v2/dags/etl/dagRuns/done"
    noted = await writer.patch(url, json={"note": "checked by ops"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["note"] == "checked by ops"
    assert noted.json()["state"] == "success"
    assert etl.wakes.calls == []  # a note changes nothing the scheduler looks at
    listed = await writer.get("/api/v2/dags/etl/dagRuns")
    notes = {r["dag_run_id"]: r["note"] for r in listed.json()["dag_runs"]}
    assert notes == {"done": "checked by ops", "broken": None, "busy": None}
    # update_mask picks what applies: the state only, the note is kept.
    masked = await writer.patch(
        url, params={"update_mask": "state"}, json={"state": "failed", "note": "ignored"}
    )
    assert (masked.json()["state"], masked.json()["note"]) == ("failed", "checked by ops")
    both = await writer.patch(url, json={"state": "queued", "note": "once more"})
    assert (both.json()["state"], both.json()["note"]) == ("queued", "once more")
    cleared = await writer.patch(url, json={"note": None})
    assert cleared.json()["note"] is None
    too_long = await writer.patch(url, json={"note": "x" * 1001})
    assert too_long.status_code == 422


# -- clear -------------------------------------------------------------------------------


@ONE_BACKEND_PER_DATABASE
async def test_clear_dry_run_lists_and_changes_nothing(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post("/api/v2/dags/etl/dagRuns/done/clear", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_entries"] == 2
    assert {(ti["task_id"], ti["state"]) for ti in body["task_instances"]} == {
        ("extract", "success"),
        ("load", "success"),
    }
    assert await run_state(etl.db, "etl", "done") == ("success", 0)
    assert etl.wakes.calls == []


@ONE_BACKEND_PER_DATABASE
async def test_clear_resets_task_instances_and_requeues_the_run(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post("/api/v2/dags/etl/dagRuns/done/clear", json={"dry_run": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dag_run_id"] == "done"
    assert body["state"] == "queued"
    assert body["start_date"] is None
    assert await run_state(etl.db, "etl", "done") == ("queued", 1)
    assert await ti_states(etl.db, "etl", "done") == {"extract": None, "load": None}
    assert len(etl.wakes.calls) == 1


@ONE_BACKEND_PER_DATABASE
async def test_clear_with_a_note_notes_the_run(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    url = "/api/v2/dags/etl/dagRuns/broken/clear"
    dry = await writer.post(url, json={"dry_run": True, "note": "not yet"})
    assert dry.status_code == 200
    assert (await writer.get("/api/v2/dags/etl/dagRuns/broken")).json()["note"] is None
    done = await writer.post(url, json={"dry_run": False, "note": "flaky upstream"})
    assert done.status_code == 200, done.text
    assert done.json()["note"] == "flaky upstream"


@ONE_BACKEND_PER_DATABASE
async def test_clear_only_failed_keeps_the_rest(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    dry = await writer.post(
        "/api/v2/dags/etl/dagRuns/busy/clear", json={"only_failed": True, "dry_run": True}
    )
    assert dry.json()["total_entries"] == 0
    response = await writer.post(
        "/api/v2/dags/etl/dagRuns/broken/clear", json={"only_failed": True, "dry_run": False}
    )
    assert response.status_code == 200
    assert await ti_states(etl.db, "etl", "broken") == {"extract": None, "load": None}


@ONE_BACKEND_PER_DATABASE
async def test_clear_unknown_run_is_404(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    missing = await writer.post("/api/v2/dags/etl/dagRuns/nope/clear", json={"dry_run": False})
    assert missing.status_code == 404
    unknown_field = await writer.post("/api/v2/dags/etl/dagRuns/done/clear", json={"x": 1})
    assert unknown_field.status_code == 422
