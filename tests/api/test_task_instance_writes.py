"""Task instance writes on a real server: mark state (and its dry run), clear (and dry run)."""

from __future__ import annotations

import httpx
import pytest

from airflow_sc.auth import Role
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.test_dag_run_writes import (
    WriteServer,
    etl_fixture,
    run_state,
    ti_states,
    write_server_fixture,
    writer_fixture,
)
from tests.api.test_dag_runs_rows import add_ti

#: The fixtures this module shares with the DAG run write tests.
__fixtures__ = (etl_fixture, write_server_fixture, writer_fixture)

TIS = "/api/v2/dags/etl/dagRuns/{run}/taskInstances/{task}"
CLEAR = "/api/v2/dags/etl/clearTaskInstances"


# -- PATCH a task instance ------------------------------------------------------------------


@pytest.mark.anyio
async def test_mark_task_instance_failed_and_the_run_is_decided_again(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.patch(TIS.format(run="done", task="load"), json={"new_state": "failed"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_entries"] == 1
    assert body["task_instances"][0]["task_id"] == "load"
    assert body["task_instances"][0]["state"] == "failed"
    assert await ti_states(etl.db, "etl", "done") == {"extract": "success", "load": "failed"}
    # A finished run goes back to running so that the scheduler decides its outcome.
    assert (await run_state(etl.db, "etl", "done"))[0] == "running"
    assert len(etl.wakes.calls) == 1


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_mark_success_with_downstream(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    response = await writer.patch(
        TIS.format(run="broken", task="extract"),
        json={"new_state": "success", "include_downstream": True},
    )
    assert response.status_code == 200
    assert [ti["state"] for ti in response.json()["task_instances"]] == ["success"]
    assert await ti_states(etl.db, "etl", "broken") == {"extract": "success", "load": "success"}


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_patch_dry_run_lists_what_would_change(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    url = TIS.format(run="broken", task="extract") + "/dry_run"
    alone = await writer.patch(url, json={"new_state": "success"})
    assert alone.status_code == 200, alone.text
    assert [ti["task_id"] for ti in alone.json()["task_instances"]] == ["extract"]
    with_down = await writer.patch(url, json={"new_state": "success", "include_downstream": True})
    assert {ti["task_id"] for ti in with_down.json()["task_instances"]} == {"extract", "load"}
    assert with_down.json()["total_entries"] == 2
    already = await writer.patch(url, json={"new_state": "failed"})
    assert already.json()["task_instances"] == []
    # Nothing was written, nobody was woken.
    assert await ti_states(etl.db, "etl", "broken") == {
        "extract": "failed",
        "load": "upstream_failed",
    }
    assert etl.wakes.calls == []


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_patch_errors(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    same = await writer.patch(TIS.format(run="done", task="load"), json={"new_state": "success"})
    assert same.status_code == 409
    assert same.json() == {"detail": "Task id load is already in success state"}
    missing = await writer.patch(TIS.format(run="done", task="nope"), json={"new_state": "failed"})
    assert missing.status_code == 404
    assert "task_id: `nope`" in missing.json()["detail"]
    no_run = await writer.patch(TIS.format(run="nope", task="load"), json={"new_state": "failed"})
    assert no_run.status_code == 404
    running = await writer.patch(TIS.format(run="done", task="load"), json={"new_state": "running"})
    assert running.status_code == 422
    bad_mask = await writer.patch(
        TIS.format(run="done", task="load"),
        params={"update_mask": "colour"},
        json={"new_state": "failed"},
    )
    assert bad_mask.status_code == 400
    assert etl.wakes.calls == []


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_mark_skipped(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    response = await writer.patch(
        TIS.format(run="busy", task="load"), json={"new_state": "skipped"}
    )
    assert response.status_code == 200, response.text
    assert [ti["state"] for ti in response.json()["task_instances"]] == ["skipped"]
    assert await ti_states(etl.db, "etl", "busy") == {"extract": "running", "load": "skipped"}
    assert len(etl.wakes.calls) == 1


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_map_index_narrows_mark_dry_run_and_note(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    for index in range(3):
        await add_ti(etl.db, "etl", "busy", "fan", map_index=index, state="running")
    url = TIS.format(run="busy", task="fan")
    dry = await writer.patch(
        url + "/dry_run", params={"map_index": 1}, json={"new_state": "failed"}
    )
    assert [ti["map_index"] for ti in dry.json()["task_instances"]] == [1]
    every = await writer.patch(url + "/dry_run", json={"new_state": "failed"})
    assert [ti["map_index"] for ti in every.json()["task_instances"]] == [0, 1, 2]
    marked = await writer.patch(
        url, params={"map_index": 1}, json={"new_state": "failed", "note": "one bad shard"}
    )
    assert marked.status_code == 200, marked.text
    assert [
        (ti["map_index"], ti["state"], ti["note"]) for ti in marked.json()["task_instances"]
    ] == [(1, "failed", "one bad shard")]
    # Airflow's other spelling: the map index in the path.
    by_path_dry = await writer.patch(url + "/2/dry_run", json={"new_state": "skipped"})
    assert [ti["map_index"] for ti in by_path_dry.json()["task_instances"]] == [2]
    by_path = await writer.patch(url + "/2", json={"new_state": "skipped"})
    assert by_path.status_code == 200, by_path.text
    listed = await writer.get(
        "/api/v2/dags/etl/dagRuns/busy/taskInstances", params={"task_id": "fan"}
    )
    assert [(ti["state"], ti["note"]) for ti in listed.json()["task_instances"]] == [
        ("running", None),
        ("failed", "one bad shard"),
        ("skipped", None),
    ]
    assert (await writer.patch(url + "/7", json={"new_state": "failed"})).status_code == 404


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_task_instance_note_alone(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    url = TIS.format(run="done", task="load")
    noted = await writer.patch(url, json={"note": "slow but fine"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["task_instances"][0]["note"] == "slow but fine"
    assert noted.json()["task_instances"][0]["state"] == "success"
    assert etl.wakes.calls == []
    single = await writer.get(url)
    assert single.json()["note"] == "slow but fine"
    # As Airflow: a null note changes nothing unless update_mask names it.
    kept = await writer.patch(url, json={"note": None})
    assert kept.json()["task_instances"][0]["note"] == "slow but fine"
    removed = await writer.patch(url, params={"update_mask": "note"}, json={"note": None})
    assert removed.json()["task_instances"][0]["note"] is None
    # The dry run of a note lists the task instance and writes nothing.
    dry = await writer.patch(url + "/dry_run", json={"note": "maybe"})
    assert [ti["note"] for ti in dry.json()["task_instances"]] == [None]


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_viewer_may_not_mark(etl: WriteServer) -> None:
    async with httpx.AsyncClient(base_url=etl.url, headers=etl.headers(Role.VIEWER)) as viewer:
        response = await viewer.patch(
            TIS.format(run="done", task="load"), json={"new_state": "failed"}
        )
        cleared = await viewer.post(CLEAR, json={"dry_run": False})
    assert response.status_code == 403
    assert cleared.status_code == 403


# -- POST clearTaskInstances ----------------------------------------------------------------


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_clear_failed_task_instances_of_the_dag(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    dry = await writer.post(CLEAR, json={})
    assert dry.status_code == 200, dry.text
    # Default: dry run, only failed (failed and upstream_failed).
    assert {(ti["dag_run_id"], ti["task_id"]) for ti in dry.json()["task_instances"]} == {
        ("broken", "extract"),
        ("broken", "load"),
    }
    assert etl.wakes.calls == []
    assert (await run_state(etl.db, "etl", "broken"))[0] == "failed"

    response = await writer.post(CLEAR, json={"dry_run": False})
    assert response.status_code == 200
    assert response.json()["total_entries"] == 2
    assert [ti["state"] for ti in response.json()["task_instances"]] == [None, None]
    assert await ti_states(etl.db, "etl", "broken") == {"extract": None, "load": None}
    assert await run_state(etl.db, "etl", "broken") == ("queued", 1)
    assert await ti_states(etl.db, "etl", "done") == {"extract": "success", "load": "success"}
    assert len(etl.wakes.calls) == 1


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_clear_chosen_tasks_of_one_run_with_downstream(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    response = await writer.post(
        CLEAR,
        json={
            "dry_run": False,
            "only_failed": False,
            "dag_run_id": "done",
            "task_ids": ["extract"],
            "include_downstream": True,
        },
    )
    assert response.status_code == 200, response.text
    assert {ti["task_id"] for ti in response.json()["task_instances"]} == {"extract", "load"}
    assert await ti_states(etl.db, "etl", "done") == {"extract": None, "load": None}
    assert await run_state(etl.db, "etl", "done") == ("queued", 1)
    # Other runs are untouched.
    assert await ti_states(etl.db, "etl", "broken") == {
        "extract": "failed",
        "load": "upstream_failed",
    }


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_clear_running_task_instance_restarts_it(
    etl: WriteServer, writer: httpx.AsyncClient
) -> None:
    body = {"only_failed": False, "dag_run_id": "busy", "task_ids": [["extract", -1]]}
    refused = await writer.post(
        CLEAR, json={**body, "dry_run": False, "prevent_running_task": True}
    )
    assert refused.status_code == 400
    assert await ti_states(etl.db, "etl", "busy") == {"extract": "running", "load": None}
    response = await writer.post(CLEAR, json={**body, "dry_run": False})
    assert response.status_code == 200
    assert await ti_states(etl.db, "etl", "busy") == {"extract": "restarting", "load": None}
    # A running run stays running.
    assert (await run_state(etl.db, "etl", "busy"))[0] == "running"


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_clear_by_logical_date_window(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    # Runs are one hour apart from 2026-11-20T08:00Z: done, broken, busy.
    response = await writer.post(
        CLEAR,
        json={
            "only_failed": False,
            "start_date": "2026-11-20T08:30:00Z",
            "end_date": "2026-11-20T09:30:00Z",
        },
    )
    assert response.status_code == 200
    assert {ti["dag_run_id"] for ti in response.json()["task_instances"]} == {"broken"}
    past = await writer.post(
        CLEAR, json={"only_failed": False, "dag_run_id": "broken", "include_past": True}
    )
    assert {ti["dag_run_id"] for ti in past.json()["task_instances"]} == {"done", "broken"}


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_clear_errors(etl: WriteServer, writer: httpx.AsyncClient) -> None:
    unknown = await writer.post("/api/v2/dags/nope/clearTaskInstances", json={})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Dag with id nope was not found"}
    no_run = await writer.post(CLEAR, json={"dag_run_id": "nope"})
    assert no_run.status_code == 404
    assert no_run.json() == {"detail": "Dag Run id nope not found in dag etl"}
    both = await writer.post(
        CLEAR, json={"dag_run_id": "done", "start_date": "2026-11-20T08:00:00Z"}
    )
    assert both.status_code == 422
    bad_ids = await writer.post(CLEAR, json={"task_ids": [["extract", "x"]]})
    assert bad_ids.status_code == 422
    assert etl.wakes.calls == []
