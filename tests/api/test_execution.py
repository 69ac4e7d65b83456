"""The execution API on a real socket and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import task_instance_history
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.secrets import Connection, InMemoryBackend
from tests.executors.world import (
    SECRET,
    ServedApi,
    add_run,
    add_ti,
    serve_execution_api,
    ti_row,
    ti_state,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        await add_run(database, conf={"size": 3})
        yield database


@pytest.fixture
async def served(db: Database) -> AsyncIterator[ServedApi]:
    secrets = InMemoryBackend(
        variables={"greeting": "hello"},
        connections={"warehouse": Connection("warehouse", "postgres", host="db.local")},
    )
    async with serve_execution_api(db, secrets=secrets) as served:
        yield served


@pytest.fixture
async def http(served: ServedApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url) as client:
        yield client


def bearer(served: ServedApi, ti_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {served.tokens.issue(ti_id)}"}


async def start(http: httpx.AsyncClient, served: ServedApi, ti_id: str) -> httpx.Response:
    return await http.patch(
        f"/task-instances/{ti_id}/run",
        json={"hostname": "worker-1", "pid": 4242},
        headers=bearer(served, ti_id),
    )


async def test_start_moves_a_queued_try_to_running_and_returns_its_context(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    ti_id = await add_ti(db, "succeed", try_number=2, max_tries=3)

    response = await start(http, served, ti_id)

    assert response.status_code == 200
    body = response.json()
    assert body["dag_id"] == "behaviours"
    assert body["run_id"] == "run_1"
    assert body["task_id"] == "succeed"
    assert (body["try_number"], body["max_tries"]) == (2, 3)
    assert body["conf"] == {"size": 3}
    assert body["dag_fileloc"].endswith("behaviours.py")
    assert body["logical_date"].startswith("2026-11-23T12:00:00")
    row = await ti_row(db, ti_id)
    assert (row.state, row.hostname, row.pid) == ("running", "worker-1", 4242)
    assert row.start_date is not None
    # A second start of the same try is refused: it is no longer queued.
    assert (await start(http, served, ti_id)).status_code == 409


async def test_a_token_only_reaches_its_own_try(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    mine = await add_ti(db, "succeed")
    theirs = await add_ti(db, "pull")

    response = await http.patch(
        f"/task-instances/{theirs}/run",
        json={"hostname": "h", "pid": 1},
        headers=bearer(served, mine),
    )
    assert response.status_code == 403
    for path in (f"/task-instances/{theirs}/heartbeat",):
        assert (await http.put(path, headers=bearer(served, mine))).status_code == 403
    assert (await ti_state(db, "pull")) == "queued"


async def test_missing_forged_and_expired_tokens_are_rejected(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    ti_id = await add_ti(db, "succeed")
    path = f"/task-instances/{ti_id}/run"
    body = {"hostname": "h", "pid": 1}
    assert (await http.patch(path, json=body)).status_code == 401
    forged = ExecutionTokens("another-deployments-secret-key-xx").issue(ti_id)
    response = await http.patch(path, json=body, headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    expired = ExecutionTokens(SECRET, lifetime=-1).issue(ti_id)
    response = await http.patch(path, json=body, headers={"authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"
    response = await http.get("/variables/greeting", headers={"authorization": "Bearer junk"})
    assert response.status_code == 401


async def test_heartbeat_refreshes_the_token_until_the_try_stops_running(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    ti_id = await add_ti(db, "succeed")
    await start(http, served, ti_id)

    beat = await http.put(f"/task-instances/{ti_id}/heartbeat", headers=bearer(served, ti_id))
    assert beat.status_code == 200
    assert served.tokens.verify(beat.json()["token"]) == ti_id
    assert (await ti_row(db, ti_id)).last_heartbeat_at is not None

    finish = await http.patch(
        f"/task-instances/{ti_id}/state", json={"state": "success"}, headers=bearer(served, ti_id)
    )
    assert finish.status_code == 204
    beat = await http.put(f"/task-instances/{ti_id}/heartbeat", headers=bearer(served, ti_id))
    assert beat.status_code == 409


async def test_finish_records_the_try_and_skips_the_branches_not_taken(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    branch = await add_ti(db, "branch")
    await add_ti(db, "exit_3", state=None)
    await add_ti(db, "boom", state="scheduled")
    await add_ti(db, "succeed", state="success")
    await start(http, served, branch)

    # "succeed" is not downstream of "branch": the whole finish is refused, nothing moves.
    refused = await http.patch(
        f"/task-instances/{branch}/state",
        json={"state": "success", "skip": ["exit_3", "boom", "succeed"]},
        headers=bearer(served, branch),
    )
    assert refused.status_code == 403
    assert "succeed" in refused.json()["detail"]
    assert await ti_state(db, "exit_3") is None
    assert await ti_state(db, "branch") == "running"

    response = await http.patch(
        f"/task-instances/{branch}/state",
        json={"state": "success", "skip": ["exit_3", "boom"]},
        headers=bearer(served, branch),
    )

    assert response.status_code == 204
    row = await ti_row(db, branch)
    assert row.state == "success"
    assert row.end_date is not None
    assert row.duration is not None
    assert row.duration >= 0
    assert await ti_state(db, "exit_3") == "skipped"
    assert await ti_state(db, "boom") == "skipped"
    assert await ti_state(db, "succeed") == "success"  # finished TIs are left alone
    assert served.finished == [[1]]  # the run's dag_run.id, to wake the scheduler

    async def history(tx: Transaction) -> list[tuple[str, int]]:
        rows = await tx.execute(
            select(task_instance_history.c.state, task_instance_history.c.try_number).where(
                task_instance_history.c.task_instance_id == branch
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    assert await db.run(history, write=False) == [("success", 1)]
    # The try is over: finishing it again is a conflict and changes nothing.
    again = await http.patch(
        f"/task-instances/{branch}/state", json={"state": "failed"}, headers=bearer(served, branch)
    )
    assert again.status_code == 409
    assert (await ti_row(db, branch)).state == "success"


async def test_finish_refuses_states_a_try_cannot_end_in(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    ti_id = await add_ti(db, "succeed")
    await start(http, served, ti_id)
    for state in ("queued", "running", "bogus"):
        response = await http.patch(
            f"/task-instances/{ti_id}/state", json={"state": state}, headers=bearer(served, ti_id)
        )
        assert response.status_code == 400, state
    assert (await ti_row(db, ti_id)).state == "running"


async def test_xcoms_are_pushed_for_the_own_task_and_pulled_from_the_run(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    producer = await add_ti(db, "succeed")
    consumer = await add_ti(db, "pull")

    pushed = await http.post(
        f"/task-instances/{producer}/xcoms/succeed/return_value",
        json={"value": {"answer": 42}},
        headers=bearer(served, producer),
    )
    assert pushed.status_code == 204
    pulled = await http.get(
        f"/task-instances/{consumer}/xcoms/succeed/return_value", headers=bearer(served, consumer)
    )
    assert pulled.json() == {"value": {"answer": 42}}
    missing = await http.get(
        f"/task-instances/{consumer}/xcoms/succeed/other", headers=bearer(served, consumer)
    )
    assert missing.status_code == 404
    # A try cannot push in another task's name.
    forged = await http.post(
        f"/task-instances/{consumer}/xcoms/succeed/return_value",
        json={"value": 0},
        headers=bearer(served, consumer),
    )
    assert forged.status_code == 403


async def test_variables_and_connections_come_from_the_secrets_chain(
    db: Database, served: ServedApi, http: httpx.AsyncClient
) -> None:
    ti_id = await add_ti(db, "succeed")
    headers = bearer(served, ti_id)
    variable = await http.get("/variables/greeting", headers=headers)
    assert variable.json() == {"key": "greeting", "value": "hello"}
    assert (await http.get("/variables/nope", headers=headers)).status_code == 404
    conn = await http.get("/connections/warehouse", headers=headers)
    assert conn.json()["host"] == "db.local"
    assert (await http.get("/connections/nope", headers=headers)).status_code == 404
