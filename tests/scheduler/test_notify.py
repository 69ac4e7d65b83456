"""The LISTEN/NOTIFY bridge: notes from other processes wake the right scheduler stages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import APPLICATION_NAME
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.notify import (
    MAX_LISTED_RUNS,
    BridgeStatistics,
    Change,
    Ping,
    apply_ping,
    decode_ping,
    encode_ping,
    publish,
    scheduler_origin,
    serve_notify_bridge,
)
from airflow_sc.scheduler.wakeups import StageWakeups, Wakeup

JOB_ID = 7


def woken(wakeups: StageWakeups) -> set[str]:
    names = ("create_runs", "start_runs", "schedule_tis", "enqueue", "housekeeping")
    return {name for name in names if getattr(wakeups, name).is_set()}


# -- pure --------------------------------------------------------------------------------


def test_a_note_round_trips_and_lists_runs_only_up_to_a_limit() -> None:
    payload = encode_ping([Change.TIS_FINISHED], {3, 1}, origin="api")
    assert decode_ping(payload) == Ping("api", frozenset({Change.TIS_FINISHED}), frozenset({1, 3}))
    many = encode_ping([Change.RUNS_CHANGED], range(MAX_LISTED_RUNS + 1))
    assert len(many) < 100
    decoded = decode_ping(many)
    assert decoded is not None
    assert decoded.run_pks is None


@pytest.mark.parametrize("payload", ["", "not json", "{}", '{"c": ["unknown"]}', '{"c": 1}'])
def test_notes_that_are_not_understood_are_ignored(payload: str) -> None:
    assert decode_ping(payload) is None


@pytest.mark.parametrize(
    ("change", "runs", "expected", "dirty"),
    [
        (Change.DAG_CHANGED, None, {"create_runs", "start_runs", "schedule_tis", "enqueue"}, set()),
        (Change.RUNS_CREATED, frozenset({5}), {"start_runs"}, set()),
        (Change.TIS_FINISHED, frozenset({5, 6}), {"schedule_tis", "enqueue"}, {5, 6}),
        (Change.RUNS_CHANGED, frozenset({5}), {"start_runs", "schedule_tis", "enqueue"}, {5}),
        # Too many runs to list: schedule_tis is woken with nothing dirty (a full sweep).
        (Change.TIS_FINISHED, None, {"schedule_tis", "enqueue"}, set()),
    ],
)
def test_each_change_wakes_the_stages_that_continue_from_it(
    change: Change, runs: frozenset[int] | None, expected: set[str], dirty: set[int]
) -> None:
    wakeups = StageWakeups()
    apply_ping(Ping(None, frozenset({change}), runs), wakeups)
    assert woken(wakeups) == expected
    assert wakeups.take_dirty() == dirty


# -- through PostgreSQL ------------------------------------------------------------------


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    async with open_database(postgres_url) as db:
        yield db


async def wait(wakeup: Wakeup) -> None:
    with anyio.fail_after(10):
        await wakeup.wait()


@pytest.mark.anyio
async def test_a_published_change_wakes_the_scheduler_in_another_connection(
    pg: Database,
) -> None:
    wakeups = StageWakeups()
    stats = BridgeStatistics()
    deps = StageDeps(SchedulerDeps(db=pg, executors=[]), job_id=JOB_ID)
    async with anyio.create_task_group() as tg:
        await tg.start(
            lambda task_status: serve_notify_bridge(
                deps, wakeups, statistics=stats, task_status=task_status
            )
        )
        async with pg.transaction() as tx:
            await publish(tx, [Change.RUNS_CREATED], [11], origin="api")
        await wait(wakeups.start_runs)
        assert woken(wakeups) == set()

        # This scheduler's own notes are skipped; others' arrive in commit order.
        async with pg.transaction() as tx:
            await publish(tx, [Change.DAG_CHANGED], origin=scheduler_origin(JOB_ID))
        async with pg.transaction() as tx:
            await publish(tx, [Change.TIS_FINISHED], [42, 43])
        await wait(wakeups.schedule_tis)
        assert wakeups.take_dirty() == {42, 43}
        assert not wakeups.create_runs.is_set()
        assert (stats.applied, stats.ignored) == (2, 1)
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_lost_listening_connection_wakes_every_stage_for_a_sweep(pg: Database) -> None:
    wakeups = StageWakeups()
    deps = StageDeps(SchedulerDeps(db=pg, executors=[]), job_id=JOB_ID)
    async with anyio.create_task_group() as tg:
        await tg.start(serve_notify_bridge, deps, wakeups)
        async with pg.transaction() as tx:
            await tx.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            )
        await wait(wakeups.housekeeping)
        assert woken(wakeups) == {"create_runs", "start_runs", "schedule_tis", "enqueue"}
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_on_sqlite_the_bridge_starts_and_publishing_sends_nothing(sqlite_url: str) -> None:
    async with open_database(sqlite_url) as db:
        wakeups = StageWakeups()
        deps = StageDeps(SchedulerDeps(db=db, executors=[]), job_id=JOB_ID)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                await tg.start(serve_notify_bridge, deps, wakeups)
        async with db.transaction() as tx:
            await publish(tx, [Change.DAG_CHANGED])
        assert woken(wakeups) == set()
