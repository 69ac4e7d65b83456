"""The in-process executor: async tasks concurrently in one event loop, same API contract."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.execution.port import TryService
from airflow_sc.execution.protocol import Start
from airflow_sc.execution.service import ExecutionService
from airflow_sc.executors.base import TaskEvent
from airflow_sc.executors.inprocess import InProcessExecutor
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.testing import open_service_group
from tests.executors.world import DAG_ID, add_run, add_ti, ti_row, workload

pytestmark = pytest.mark.anyio

_TI = TaskInstanceState


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        await add_run(database)
        yield database


@asynccontextmanager
async def open_inprocess(
    db: Database, logs: Path, *, service: TryService | None = None, **options: Any
) -> AsyncIterator[tuple[InProcessExecutor, MemoryObjectReceiveStream[TaskEvent]]]:
    send, receive = anyio.create_memory_object_stream[TaskEvent](10_000)
    executor = InProcessExecutor(
        service=service or ExecutionService(db),
        base_log_folder=logs,
        blocking_threshold=0.1,
        **options,
    )
    with receive:
        async with open_service_group() as tg:
            await tg.start(executor.serve, send)
            yield executor, receive


async def terminal_events(
    events: MemoryObjectReceiveStream[TaskEvent], count: int, *, within: float = 30
) -> dict[str, TaskEvent]:
    done: dict[str, TaskEvent] = {}
    with anyio.fail_after(within):
        async for event in events:
            done[event.ti_id] = event
            if len(done) == count:
                break
    return done


async def test_a_thousand_concurrent_sleeps_take_about_one_sleep(
    db: Database, tmp_path: Path
) -> None:
    ids = [await add_ti(db, "nap", run_id="run_1") for _ in range(1)]
    # One task instance row per try: the rest of the thousand are map indexes of `nap`.
    ids += await _mapped_tis(db, "nap", 999)
    async with open_inprocess(db, tmp_path) as (executor, events):
        started = time.monotonic()
        await executor.submit([workload(ti_id, "nap", is_async=True) for ti_id in ids])
        done = await terminal_events(events, len(ids))
        elapsed = time.monotonic() - started

    assert {event.recorded for event in done.values()} == {_TI.SUCCESS}
    # One after the other they would take 500 s. Measured 1.1-1.9 s on a quiet 2-core
    # machine and up to 10 s on a loaded one; how fast is benchmarks/' business
    # (executor_overhead.py), that they overlap is this test's.
    assert elapsed < 30
    assert (await ti_row(db, ids[0])).state == "success"


async def _mapped_tis(db: Database, task_id: str, count: int) -> list[str]:
    import uuid

    from sqlalchemy import insert

    from airflow_sc.db.models import task_instance

    rows = [
        {
            "id": str(uuid.uuid4()),
            "dag_id": DAG_ID,
            "run_id": "run_1",
            "task_id": task_id,
            "map_index": index,
            "state": "queued",
            "try_number": 1,
            "max_tries": 0,
            "pool": "default_pool",
        }
        for index in range(count)
    ]

    async def body(tx) -> None:  # type: ignore[no-untyped-def]
        await tx.execute(insert(task_instance), rows)

    await db.run(body)
    return [row["id"] for row in rows]


def log_text(logs: Path, task_id: str, try_number: int = 1) -> str:
    path = try_log_path(logs, dag_id=DAG_ID, run_id="run_1", task_id=task_id, try_number=try_number)
    return path.read_text()


async def test_a_blocking_call_is_reported_in_the_task_log(db: Database, tmp_path: Path) -> None:
    blocker = await add_ti(db, "block")
    napper = await add_ti(db, "nap")
    async with open_inprocess(db, tmp_path) as (executor, events):
        await executor.submit(
            [workload(blocker, "block", is_async=True), workload(napper, "nap", is_async=True)]
        )
        done = await terminal_events(events, 2)

    assert done[blocker].recorded is _TI.SUCCESS
    text = log_text(tmp_path, "block")
    assert "Blocking call detected" in text
    assert "time.sleep(0.3)" in text  # the watchdog's stack shows where
    assert "Blocking call detected" not in log_text(tmp_path, "nap")
    value = await ExecutionService(db).get_xcom(blocker, "block", "return_value", -1)
    assert value == "blocked"


async def test_execution_timeout_is_a_cancel_scope(db: Database, tmp_path: Path) -> None:
    ti_id = await add_ti(db, "async_timeout", max_tries=1)
    async with open_inprocess(db, tmp_path) as (executor, events):
        started = time.monotonic()
        await executor.submit([workload(ti_id, "async_timeout", is_async=True)])
        event = (await terminal_events(events, 1))[ti_id]
        elapsed = time.monotonic() - started

    # The task timed out, and may be retried: it recorded up_for_retry itself.
    assert event.recorded is _TI.UP_FOR_RETRY
    assert "timed out" in (event.info or "")
    assert elapsed < 3
    assert (await ti_row(db, ti_id)).state == "up_for_retry"
    assert "AirflowTaskTimeout" in log_text(tmp_path, "async_timeout")


async def test_terminate_cancels_one_try_and_leaves_the_others(
    db: Database, tmp_path: Path
) -> None:
    hanging = await add_ti(db, "async_hang")
    napper = await add_ti(db, "nap")
    async with open_inprocess(db, tmp_path) as (executor, events):
        await executor.submit(
            [workload(hanging, "async_hang", is_async=True), workload(napper, "nap", is_async=True)]
        )
        await executor.terminate(hanging, reason="stopped by the user")
        done = await terminal_events(events, 2)

    assert done[hanging].recorded is None  # cancelled: the scheduler ends the try
    assert done[hanging].info == "stopped by the user"
    assert (await ti_row(db, hanging)).state in ("queued", "running")  # nothing written
    assert done[napper].recorded is _TI.SUCCESS


class CountedHeartbeats:
    """The real service (a `TryService`), recording the tries it started and the ids of
    each batched heartbeat."""

    def __init__(self, db: Database) -> None:
        self._service = ExecutionService(db)
        self.calls: list[set[str]] = []
        self.started: set[str] = set()
        self._beat = anyio.Event()
        self._start = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def start(self, ti_id: str, start: Start) -> TryContext:
        context = await self._service.start(ti_id, start)
        self.started.add(ti_id)
        self._start.set()
        self._start = anyio.Event()
        return context

    async def heartbeat_many(self, ti_ids: Sequence[str]) -> set[str]:
        alive = await self._service.heartbeat_many(ti_ids)
        self.calls.append(set(ti_ids))
        self._beat.set()
        self._beat = anyio.Event()
        return alive

    async def next_heartbeat(self) -> None:
        with anyio.fail_after(10):
            await self._beat.wait()

    async def running(self, ti_ids: set[str]) -> None:
        """Wait until the service started every try of `ti_ids`."""
        with anyio.fail_after(30):
            while not self.started >= ti_ids:
                await self._start.wait()


async def test_running_tries_heartbeat_together_so_none_looks_like_a_zombie(
    db: Database, tmp_path: Path
) -> None:
    await add_run(db, "run_2")
    first, second = await add_ti(db, "async_hang"), await add_ti(db, "async_hang", run_id="run_2")
    handlers = CountedHeartbeats(db)
    async with open_inprocess(db, tmp_path, service=handlers, heartbeat_interval=0.05) as (
        executor,
        events,
    ):
        await executor.submit(
            [
                workload(first, "async_hang", is_async=True),
                workload(second, "async_hang", run_id="run_2", is_async=True),
            ]
        )
        await handlers.running({first, second})
        started = {ti_id: (await ti_row(db, ti_id)).last_heartbeat_at for ti_id in (first, second)}
        # Two heartbeats after both started: the second saw them both (the first may not have).
        await handlers.next_heartbeat()
        await handlers.next_heartbeat()
        rows = {ti_id: await ti_row(db, ti_id) for ti_id in (first, second)}
        await executor.terminate(first, reason="done")
        await executor.terminate(second, reason="done")
        await terminal_events(events, 2)

    assert handlers.calls[-1] >= {first, second}  # one call per interval for every try
    for ti_id, row in rows.items():
        assert row.state == "running"
        assert row.last_heartbeat_at > started[ti_id]


async def test_a_try_the_heartbeat_finds_taken_away_is_cancelled(
    db: Database, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from airflow_sc.db.models import task_instance

    await add_run(db, "run_2")
    taken, kept = await add_ti(db, "async_hang"), await add_ti(db, "async_hang", run_id="run_2")
    handlers = CountedHeartbeats(db)
    async with open_inprocess(db, tmp_path, service=handlers, heartbeat_interval=0.05) as (
        executor,
        events,
    ):
        await executor.submit(
            [
                workload(taken, "async_hang", is_async=True),
                workload(kept, "async_hang", run_id="run_2", is_async=True),
            ]
        )
        await handlers.running({taken, kept})

        async def clear(tx) -> None:  # type: ignore[no-untyped-def]
            # What clearing a running try does: the row no longer holds it as running.
            await tx.execute(
                update(task_instance).where(task_instance.c.id == taken).values(state="restarting")
            )

        await db.run(clear)
        done = await terminal_events(events, 1)
        still = await ti_row(db, kept)
        await executor.terminate(kept, reason="done")
        await terminal_events(events, 1)

    assert done[taken].recorded is None  # cancelled: nothing recorded
    assert "no longer running" in (done[taken].info or "")
    assert "Stopping the task: the try is no longer running" in log_text(tmp_path, "async_hang")
    assert still.state == "running"
