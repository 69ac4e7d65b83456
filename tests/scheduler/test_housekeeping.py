"""Housekeeping: orphans of dead schedulers, zombies, stuck queues and trigger timeouts.

Rows are written straight into a real database (SQLite and PostgreSQL); time is a fixed
`NOW` handed to each pass, so nothing waits for a timeout to pass.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import insert, select

from airflow_sc.config.errors import ConfigError
from airflow_sc.config.loading import load_settings
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag, dag_run, job, log, task_instance, task_instance_history
from airflow_sc.db.queries import housekeeping as queries
from airflow_sc.domain.keys import TaskInstanceKey
from airflow_sc.domain.states import TaskInstanceState as TI
from airflow_sc.executors.base import Workload
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.housekeeping_rules import (
    EVENT_HEARTBEAT_TIMEOUT,
    EVENT_ORPHAN_RESET,
    EVENT_STUCK_EXCEEDED,
    EVENT_STUCK_REQUEUED,
    EVENT_TRIGGER_TIMEOUT,
    FAIL_METHOD,
    HousekeepingLimits,
    TaskRow,
    decide_stuck_in_queued,
    decide_zombie,
    is_job_alive,
    is_zombie,
    silence_is_evidence,
)
from airflow_sc.scheduler.stages.housekeeping import (
    SCHEDULER_JOB_TYPE,
    housekeeping_once,
    limits_from_settings,
    serve_housekeeping,
)
from airflow_sc.scheduler.wakeups import StageWakeups
from tests.scheduler.dags import memory_executor

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = HousekeepingLimits(heartbeat_timeout=60, task_queued_timeout=600, interval=5)
DAG_ID = "housekeeping_dag"
RUN_ID = "manual__1"


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as opened:
        yield opened


async def add_run(db: Database) -> int:
    async with db.transaction() as tx:
        await tx.execute(insert(dag).values(dag_id=DAG_ID))
        rows = await tx.execute(
            insert(dag_run)
            .values(
                dag_id=DAG_ID,
                run_id=RUN_ID,
                state="running",
                run_type="manual",
                run_after=ago(3600),
            )
            .returning(dag_run.c.id)
        )
        return int(rows.scalar())


async def add_job(db: Database, *, heartbeat: datetime, state: str = "running") -> int:
    async with db.transaction() as tx:
        rows = await tx.execute(
            insert(job)
            .values(
                job_type=SCHEDULER_JOB_TYPE,
                state=state,
                start_date=ago(7200),
                latest_heartbeat=heartbeat,
                hostname="test",
            )
            .returning(job.c.id)
        )
        return int(rows.scalar())


async def add_ti(db: Database, task_id: str, state: str, **values: Any) -> str:
    ti_id = str(uuid.uuid4())
    row = {
        "id": ti_id,
        "dag_id": DAG_ID,
        "run_id": RUN_ID,
        "task_id": task_id,
        "state": state,
        "try_number": 1,
        "max_tries": 0,
        "pool": "default_pool",
        **values,
    }
    async with db.transaction() as tx:
        await tx.execute(insert(task_instance).values(**row))
    return ti_id


async def ti_row(db: Database, task_id: str) -> Any:
    async with db.transaction(write=False) as tx:
        return (
            await tx.execute(select(task_instance).where(task_instance.c.task_id == task_id))
        ).one()


async def events(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    async with db.transaction(write=False) as tx:
        rows = await tx.execute(select(log.c.event, log.c.task_id, log.c.extra).order_by(log.c.id))
    return [(r.event, r.task_id, json.loads(r.extra)) for r in rows]


async def history_ids(db: Database) -> list[str]:
    async with db.transaction(write=False) as tx:
        return [str(i) for i in await tx.scalars(select(task_instance_history.c.task_instance_id))]


async def history_ends(db: Database) -> dict[str, tuple[str, datetime | None]]:
    """Each recorded try's state and end date, by task id."""
    history = task_instance_history.c
    async with db.transaction(write=False) as tx:
        rows = await tx.execute(select(history.task_id, history.state, history.end_date))
        return {r.task_id: (r.state, r.end_date) for r in rows}


# -- pure rules ----------------------------------------------------------------------------


def running(**values: Any) -> TaskRow:
    base: dict[str, Any] = {
        "id": "t",
        "dag_id": "d",
        "run_id": "r",
        "task_id": "x",
        "map_index": -1,
        "state": TI.RUNNING,
        "try_number": 1,
        "max_tries": 0,
        "run_pk": 1,
    }
    return TaskRow(**{**base, **values})


def test_a_task_is_a_zombie_only_after_the_timeout_since_its_last_sign_of_life() -> None:
    assert is_zombie(running(last_heartbeat_at=ago(61)), now=NOW, timeout=60)
    assert not is_zombie(running(last_heartbeat_at=ago(59)), now=NOW, timeout=60)
    # No heartbeat yet: measured from its start.
    assert is_zombie(running(start_date=ago(61)), now=NOW, timeout=60)
    assert not is_zombie(running(start_date=ago(61), last_heartbeat_at=ago(1)), now=NOW, timeout=60)
    assert not is_zombie(running(state=TI.QUEUED, last_heartbeat_at=ago(600)), now=NOW, timeout=60)


def test_a_zombie_is_retried_while_tries_remain() -> None:
    retried = decide_zombie(running(try_number=1, max_tries=2), now=NOW, timeout=60)
    assert retried.new_state == TI.UP_FOR_RETRY
    assert retried.record_history
    failed = decide_zombie(running(try_number=3, max_tries=2), now=NOW, timeout=60)
    assert failed.new_state == TI.FAILED
    assert "no heartbeat within 60s of starting" in failed.reason


def test_a_stuck_task_is_requeued_twice_then_fails() -> None:
    queued = running(state=TI.QUEUED, queued_dttm=ago(601), try_number=2)
    decisions = [
        decide_stuck_in_queued(
            TaskRow(**{**_fields(queued), "requeues": n}), now=NOW, timeout=600, max_requeues=2
        )
        for n in range(3)
    ]
    assert [d.new_state for d in decisions] == [TI.SCHEDULED, TI.SCHEDULED, TI.FAILED]
    # A requeue hands the try back: the enqueue stage counts it again.
    assert decisions[0].values["try_number"] == 1
    assert "requeued (1 of 2)" in decisions[0].reason


def _fields(row: TaskRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in TaskRow.__slots__}


def test_a_job_is_alive_while_running_and_beating() -> None:
    assert is_job_alive("running", ago(59), now=NOW, timeout=60)
    assert not is_job_alive("running", ago(61), now=NOW, timeout=60)
    assert not is_job_alive("success", ago(1), now=NOW, timeout=60)
    assert not is_job_alive("running", None, now=NOW, timeout=60)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        HousekeepingLimits(heartbeat_timeout=0)
    with pytest.raises(ValueError, match="max_stuck_requeues"):
        HousekeepingLimits(max_stuck_requeues=-1)


# -- against the database ------------------------------------------------------------------


async def test_zombies_fail_or_retry_with_a_history_row_and_a_reason(db: Database) -> None:
    await add_run(db)
    retry_id = await add_ti(
        db, "silent_retry", "running", max_tries=1, start_date=ago(300), last_heartbeat_at=ago(61)
    )
    fail_id = await add_ti(db, "silent_fail", "running", start_date=ago(61))
    await add_ti(db, "beating", "running", start_date=ago(300), last_heartbeat_at=ago(10))
    await add_ti(db, "just_started", "running", start_date=ago(10))

    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=None)

    assert sorted(report.by_event()[EVENT_HEARTBEAT_TIMEOUT]) == sorted([retry_id, fail_id])
    assert (await ti_row(db, "silent_retry")).state == "up_for_retry"
    failed = await ti_row(db, "silent_fail")
    assert (failed.state, failed.end_date) == ("failed", NOW)
    assert (await ti_row(db, "beating")).state == "running"
    assert (await ti_row(db, "just_started")).state == "running"
    assert sorted(await history_ids(db)) == sorted([retry_id, fail_id])
    # The history rows say how the tries ended, not that they were running.
    assert await history_ends(db) == {
        "silent_retry": ("up_for_retry", NOW),
        "silent_fail": ("failed", NOW),
    }
    logged = {task: extra["reason"] for event, task, extra in await events(db)}
    assert "no heartbeat for more than 60s" in logged["silent_retry"]
    assert "no heartbeat within 60s of starting" in logged["silent_fail"]
    # A second pass finds nothing more to do.
    again = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=None)
    assert again.decisions == []


async def test_a_heartbeat_left_by_an_earlier_try_does_not_make_a_candidate(
    db: Database,
) -> None:
    # Candidates are read in batches: rows the rule then rejects would fill every batch
    # (and make the pass repeat at once) without ever being judged zombies.
    await add_run(db)
    await add_ti(
        db, "second_try", "running", try_number=2, start_date=ago(5), last_heartbeat_at=ago(600)
    )
    silent_id = await add_ti(db, "silent", "running", start_date=ago(300))

    async def candidates(tx: Transaction) -> list[str]:
        rows = await queries.running_silent_since(
            tx, stale_before=NOW - timedelta(seconds=60), queued_by=None, limit=10
        )
        return [r["id"] for r in rows]

    assert await db.run(candidates, write=False) == [silent_id]


async def test_stuck_in_queued_is_requeued_then_failed(db: Database) -> None:
    await add_run(db)
    me = await add_job(db, heartbeat=NOW)
    other = await add_job(db, heartbeat=NOW)
    await add_ti(db, "stuck", "queued", try_number=1, queued_dttm=ago(601), queued_by_job_id=me)
    await add_ti(db, "fresh", "queued", queued_dttm=ago(10), queued_by_job_id=me)
    await add_ti(db, "theirs", "queued", queued_dttm=ago(601), queued_by_job_id=other)

    for requeue in (1, 2):
        report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=me)
        assert len(report.by_event()[EVENT_STUCK_REQUEUED]) == 1
        stuck = await ti_row(db, "stuck")
        assert (stuck.state, stuck.try_number, stuck.queued_by_job_id) == ("scheduled", 0, None)
        # The enqueue stage queues it again (a new id and the same try number).
        async with db.transaction() as tx:
            await tx.execute(
                task_instance.update()
                .where(task_instance.c.task_id == "stuck")
                .values(
                    id=str(uuid.uuid4()),
                    state="queued",
                    try_number=1,
                    queued_dttm=ago(601),
                    queued_by_job_id=me,
                )
            )
        assert [e for e, t, _ in await events(db) if t == "stuck"] == [
            EVENT_STUCK_REQUEUED
        ] * requeue

    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=me)
    assert list(report.by_event()) == [EVENT_STUCK_EXCEEDED]
    assert (await ti_row(db, "stuck")).state == "failed"
    assert (await ti_row(db, "fresh")).state == "queued"
    # Another live scheduler's queue is its own business.
    assert (await ti_row(db, "theirs")).state == "queued"


async def test_work_of_a_dead_scheduler_is_reset_and_the_job_marked_failed(db: Database) -> None:
    run_pk = await add_run(db)
    me = await add_job(db, heartbeat=NOW)
    dead = await add_job(db, heartbeat=ago(61))
    alive = await add_job(db, heartbeat=ago(30))
    stopped = await add_job(db, heartbeat=ago(1), state="success")
    await add_ti(db, "dead_queued", "queued", queued_dttm=ago(5), queued_by_job_id=dead)
    await add_ti(
        db,
        "dead_running",
        "running",
        start_date=ago(5),
        last_heartbeat_at=ago(1),
        queued_by_job_id=dead,
    )
    await add_ti(db, "stopped_queued", "queued", queued_dttm=ago(5), queued_by_job_id=stopped)
    await add_ti(db, "alive_queued", "queued", queued_dttm=ago(5), queued_by_job_id=alive)
    await add_ti(db, "mine", "queued", queued_dttm=ago(5), queued_by_job_id=me)

    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=me)

    assert report.dead_jobs == [dead]
    reset = {d.ti.task_id for d in report.decisions if d.event == EVENT_ORPHAN_RESET}
    assert reset == {"dead_queued", "dead_running", "stopped_queued"}
    for task_id in reset:
        row = await ti_row(db, task_id)
        assert (row.state, row.queued_by_job_id) == (None, None)
    assert (await ti_row(db, "alive_queued")).state == "queued"
    assert (await ti_row(db, "mine")).state == "queued"
    async with db.transaction(write=False) as tx:
        states = dict((await tx.execute(select(job.c.id, job.c.state))).all())
    assert states == {me: "running", dead: "failed", alive: "running", stopped: "success"}
    assert {d.ti.run_pk for d in report.decisions} == {run_pk}


def test_silence_is_judged_only_once_the_database_was_reachable_for_the_timeout() -> None:
    assert silence_is_evidence(None, 60)  # no outage seen
    assert not silence_is_evidence(0.0, 60)  # during an outage
    assert not silence_is_evidence(59.9, 60)
    assert silence_is_evidence(60.0, 60)


async def test_after_an_outage_silence_is_not_judged_until_the_timeouts_pass_again(
    db: Database,
) -> None:
    # The database was unreachable until 5 s ago: nobody could write a heartbeat, so old
    # heartbeats prove nothing yet. Work of a job that is closed is still reset at once.
    await add_run(db)
    me = await add_job(db, heartbeat=NOW)
    other = await add_job(db, heartbeat=ago(120))
    stopped = await add_job(db, heartbeat=ago(1), state="success")
    beat = {"start_date": ago(300), "last_heartbeat_at": ago(120)}
    await add_ti(db, "silent", "running", queued_by_job_id=me, **beat)
    await add_ti(db, "waiting", "queued", queued_dttm=ago(900), queued_by_job_id=me)
    await add_ti(db, "theirs", "running", start_date=ago(300), queued_by_job_id=other)
    await add_ti(db, "stopped_queued", "queued", queued_dttm=ago(5), queued_by_job_id=stopped)

    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=me, since_recovery=5)

    assert report.dead_jobs == []
    assert report.by_event() == {EVENT_ORPHAN_RESET: [report.decisions[0].ti.id]}
    assert report.decisions[0].ti.task_id == "stopped_queued"
    for task_id, state in (("silent", "running"), ("waiting", "queued"), ("theirs", "running")):
        assert (await ti_row(db, task_id)).state == state

    # Once the database has answered for the heartbeat timeout, silence is judged again
    # (the queued timeout, ten times longer, still protects `waiting`).
    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=me, since_recovery=60)
    assert report.dead_jobs == [other]
    assert sorted(report.by_event()) == [EVENT_HEARTBEAT_TIMEOUT, EVENT_ORPHAN_RESET]
    assert (await ti_row(db, "silent")).state == "failed"
    assert (await ti_row(db, "theirs")).state is None
    assert (await ti_row(db, "waiting")).state == "queued"


async def test_deferred_past_its_trigger_timeout_resumes_to_fail(db: Database) -> None:
    await add_run(db)
    await add_ti(db, "late", "deferred", trigger_timeout=ago(1), next_method="execute_complete")
    await add_ti(db, "waiting", "deferred", trigger_timeout=NOW + timedelta(seconds=30))

    report = await housekeeping_once(db, now=NOW, limits=LIMITS, job_id=None)

    assert [d.ti.task_id for d in report.decisions] == ["late"]
    assert report.decisions[0].event == EVENT_TRIGGER_TIMEOUT
    late = await ti_row(db, "late")
    assert (late.state, late.next_method, late.trigger_timeout) == ("scheduled", FAIL_METHOD, None)
    assert late.next_kwargs == {"error": "Trigger/execution timeout"}
    assert (await ti_row(db, "waiting")).state == "deferred"


async def test_the_stage_wakes_the_pipeline_and_stops_the_executor_task(db: Database) -> None:
    run_pk = await add_run(db)
    me = await add_job(db, heartbeat=NOW)
    zombie_id = await add_ti(db, "zombie", "queued", executor="local", queued_by_job_id=me)
    # Its try started two minutes ago and has said nothing since.
    executor = memory_executor(db, lambda: ago(120), "local", hold=True)
    key = TaskInstanceKey(DAG_ID, RUN_ID, "zombie", -1, 1)
    await executor.submit([Workload(ti_id=zombie_id, key=key, dag_fileloc="d.py", dag_hash="h")])
    assert zombie_id in executor.running
    deps = StageDeps(SchedulerDeps(db=db, executors=[executor], clock=lambda: NOW), job_id=me)
    wakeups = StageWakeups()
    async with anyio.create_task_group() as tg:
        await tg.start(serve_housekeeping, deps, wakeups)
        with anyio.fail_after(10):
            await wakeups.schedule_tis.wait()
        tg.cancel_scope.cancel()
    assert wakeups.take_dirty() == {run_pk}
    assert wakeups.enqueue.is_set()
    assert (await ti_row(db, "zombie")).state == "failed"
    assert zombie_id not in executor.running


@pytest.mark.postgres
@pytest.mark.parametrize("database_kind", ["postgres"], indirect=True)
async def test_two_schedulers_housekeeping_at_once_take_disjoint_rows(db: Database) -> None:
    await add_run(db)
    ids = [
        await add_ti(db, f"zombie_{i}", "running", start_date=ago(120), max_tries=1)
        for i in range(40)
    ]
    async with open_database(db.url.url.render_as_string(hide_password=False)) as second:
        reports = []

        async def one(target: Database) -> None:
            reports.append(await housekeeping_once(target, now=NOW, limits=LIMITS, job_id=None))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, db)
            tg.start_soon(one, second)
    decided = [d.ti.id for report in reports for d in report.decisions]
    assert sorted(decided) == sorted(ids)
    assert sorted(await history_ids(db)) == sorted(ids)


def test_the_queued_timeout_is_a_validated_setting(tmp_path: Path) -> None:
    env = {"AIRFLOW_SC_HOME": str(tmp_path)}
    settings = load_settings({**env, "AIRFLOW_SC__SCHEDULER__TASK_QUEUED_TIMEOUT": "90"})
    limits = limits_from_settings(settings.scheduler)
    assert (limits.task_queued_timeout, limits.heartbeat_timeout) == (90.0, 60.0)
    with pytest.raises(ConfigError, match=r"scheduler\.task_queued_timeout"):
        load_settings({**env, "AIRFLOW_SC__SCHEDULER__TASK_QUEUED_TIMEOUT": "0"})
