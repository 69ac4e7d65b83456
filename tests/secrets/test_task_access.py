"""Tasks reach connections and variables: `Connection.get`, `Variable.get/set/delete`,
`BaseHook.get_connection`, the async `aget` names and the `var` / `conn` templates.

Real worker processes (local executor, over HTTP and over the pipe channel) and the
in-process executor, against a real database whose metastore holds encrypted secrets,
through the execution API; what a user would see is checked: XComs, the stored rows, and
the task's log with every secret masked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from airflow_sc.db.engine import open_database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import TaskEvent
from airflow_sc.executors.inprocess import InProcessExecutor
from airflow_sc.executors.local import LocalChannel
from airflow_sc.secrets import MetastoreBackend
from airflow_sc.testing import open_service_group
from tests.executors.test_local import open_local
from tests.executors.world import ServedApi
from tests.secrets.task_world import (
    PASSWORD,
    TOKEN,
    SecretsWorld,
    add_ti,
    log_text,
    open_secrets_world,
    stored_variable,
    workload,
)

pytestmark = pytest.mark.anyio

_TI = TaskInstanceState


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[SecretsWorld]:
    async with open_database(database_url) as db, open_secrets_world(db) as world:
        yield world


@pytest.fixture
async def sqlite_world(sqlite_database_url: str) -> AsyncIterator[SecretsWorld]:
    """Worker processes cost the most: their tests use SQLite only (the API is the same)."""
    async with open_database(sqlite_database_url) as db, open_secrets_world(db) as world:
        yield world


async def xcom(world: SecretsWorld, ti_id: str, task_id: str) -> Any:
    return await world.service.get_xcom(ti_id, task_id, "return_value", -1)


async def finals(
    events: MemoryObjectReceiveStream[TaskEvent], ti_ids: Collection[str]
) -> dict[str, TaskEvent]:
    """The terminal event of each try in `ti_ids`."""
    done: dict[str, TaskEvent] = {}
    with anyio.fail_after(60):
        async for event in events:
            if event.ti_id in ti_ids:
                done[event.ti_id] = event
                if len(done) == len(ti_ids):
                    break
    return done


async def run_local(
    world: SecretsWorld, logs: Path, channel: LocalChannel, *tasks: str
) -> tuple[dict[str, str], dict[str, TaskEvent]]:
    served = ServedApi(world.url, world.dispatcher, [])
    ids = {task_id: await add_ti(world.db, task_id) for task_id in tasks}
    async with open_local(served, logs, channel=channel) as (executor, events):
        await executor.submit([workload(ti_id, task_id) for task_id, ti_id in ids.items()])
        done = await finals(events, ids.values())
    return ids, {task_id: done[ti_id] for task_id, ti_id in ids.items()}


@pytest.mark.parametrize("channel", ["http", "pipe"])
async def test_sync_tasks_read_write_and_template_secrets_in_worker_processes(
    sqlite_world: SecretsWorld, tmp_path: Path, channel: LocalChannel
) -> None:
    world = sqlite_world
    ids, done = await run_local(
        world,
        tmp_path,
        channel,
        "read_secrets",
        "write_variables",
        "templated",
        "fail_with_secret_in_a_worker",
    )

    assert {task_id: event.recorded for task_id, event in done.items()} == {
        "read_secrets": _TI.SUCCESS,
        "write_variables": _TI.SUCCESS,
        "templated": _TI.SUCCESS,
        "fail_with_secret_in_a_worker": _TI.FAILED,
    }

    assert await xcom(world, ids["read_secrets"], "read_secrets") == {
        "host": "db.local",
        "hook_host": "db.local",
        "uri": True,
        "limits": {"n": 3},
        "missing": "fallback",
    }
    # Written to the metastore, encrypted; the deleted one is gone; reads see the write.
    assert await xcom(world, ids["write_variables"], "write_variables") == [{"n": 1}, True, False]
    row = await stored_variable(world.db, "written")
    assert row.is_encrypted
    assert row.val.startswith("gAAAA")  # a Fernet token, not the JSON text
    assert row.description == "from a task"
    stored = await MetastoreBackend(world.db, world.cipher).get_variable("written")
    assert json.loads(stored or "") == {"n": 1}
    assert await stored_variable(world.db, "scratch") is None
    # Templates: the rendered command ran; the token it printed is masked in the log.
    assert await xcom(world, ids["templated"], "templated") == (
        f"host=db.local user=alice n=3 token={TOKEN}"
    )
    templated = log_text(tmp_path, "templated")
    assert "host=db.local user=alice n=3 token=***" in templated
    read = log_text(tmp_path, "read_secrets")
    assert "the password is ***" in read
    assert "the token is ***" in read
    for text in (templated, read):
        assert TOKEN not in text
        assert PASSWORD not in text
    # A failure's reason is stored and shown: masked like the log.
    failed = log_text(tmp_path, "fail_with_secret_in_a_worker")
    assert "ValueError: login refused for password ***" in failed
    assert PASSWORD not in failed
    assert done["fail_with_secret_in_a_worker"].info == (
        "ValueError: login refused for password ***"
    )


async def test_async_tasks_use_the_service_without_blocking_and_sync_names_from_threads(
    world: SecretsWorld, tmp_path: Path
) -> None:
    tasks = (
        "read_async",
        "fail_with_secret",
        "templated_async",
        "sync_get_on_the_loop",
        "sync_get_in_a_thread",
    )
    ids = {task_id: await add_ti(world.db, task_id) for task_id in tasks}
    send, receive = anyio.create_memory_object_stream[TaskEvent](100)
    executor = InProcessExecutor(service=world.service, base_log_folder=tmp_path)
    with receive:
        async with open_service_group() as tg:
            await tg.start(executor.serve, send)
            await executor.submit(
                [workload(ti_id, task_id, is_async=True) for task_id, ti_id in ids.items()]
            )
            done = await finals(receive, ids.values())
            tg.cancel_scope.cancel()

    states = {task_id: done[ti_id].recorded for task_id, ti_id in ids.items()}
    assert states == {
        "read_async": _TI.SUCCESS,
        "fail_with_secret": _TI.FAILED,
        "templated_async": _TI.SUCCESS,
        "sync_get_on_the_loop": _TI.FAILED,
        "sync_get_in_a_thread": _TI.SUCCESS,
    }
    assert await xcom(world, ids["read_async"], "read_async") == {
        "host": "db.local",
        "token": True,
        "value": "yes",
        "deleted": True,
        "hook": "db.local",
    }
    assert await stored_variable(world.db, "async_written") is None
    assert await xcom(world, ids["sync_get_in_a_thread"], "sync_get_in_a_thread") == "alice"
    # `var` / `conn` templates of an async task render without blocking the loop.
    assert await xcom(world, ids["templated_async"], "templated_async") == "alice@db.local"
    # The password the task read is masked in its traceback, in the log and the event.
    text = log_text(tmp_path, "fail_with_secret")
    assert "ValueError: login refused for password ***" in text
    assert PASSWORD not in text
    assert PASSWORD not in (done[ids["fail_with_secret"]].info or "")
    refused = log_text(tmp_path, "sync_get_on_the_loop")
    assert "cannot wait for it on the event loop; use `await Variable.aget(...)`" in refused
