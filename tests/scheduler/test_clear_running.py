"""Clearing a task instance while its try runs.

The clear moves it to RESTARTING. If this scheduler handed the try to its executor, it
asks the executor to stop it at once; otherwise the try learns it at its next heartbeat
(the execution API answers 409 and the task runner stops). Either way the try's end puts
the task instance back to be scheduled, and a new try runs.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from sqlalchemy import update

from airflow_sc.actions import clear_task_instances
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import task_instance
from airflow_sc.db.queries import jobs
from airflow_sc.domain import TaskInstanceState
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.testing import InMemoryExecutor
from tests.scheduler.dags import T0, FakeClock, execution_service, open_scheduler, store_dag, tis

pytestmark = pytest.mark.anyio
TI = TaskInstanceState


def noop() -> None:
    return None


class RecordingExecutor(InMemoryExecutor):
    """The in-memory double, remembering what it was asked to stop."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        super().__init__(service=execution_service(db, clock), hold=True, clock=clock)
        self.terminated: list[tuple[str, str]] = []

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        self.terminated.append((ti_id, reason))
        await super().terminate(ti_id, reason=reason)


async def one_task_dag(db: Database, clock: FakeClock) -> None:
    with DAG("cleared", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="work", python_callable=noop)
    await store_dag(db, dag, now=clock.now)


async def test_clearing_a_try_this_scheduler_runs_stops_it_at_once(
    db: Database, clock: FakeClock
) -> None:
    await one_task_dag(db, clock)
    executor = RecordingExecutor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        [first] = executor.submitted
        await clear_task_instances(db, "cleared", now=clock.now, wake=running.handle.wake)
        # No heartbeat needed: the scheduler stops the try, which then runs again.
        with anyio.fail_after(10):
            await executor.wait_submitted(2)
        assert executor.terminated == [(first.ti_id, "cleared while running")]
        second = executor.submitted[1]
        assert (second.key.try_number, first.key.try_number) == (2, 1)
        await executor.release()
        await running.wait_run_state("cleared", "success")
    assert executor.terminated == [(first.ti_id, "cleared while running")]  # asked once


async def test_a_try_another_scheduler_handed_out_is_left_to_its_heartbeat(
    db: Database, clock: FakeClock
) -> None:
    await one_task_dag(db, clock)
    executor = RecordingExecutor(db, clock)
    other_job = await jobs.start_job(db, "SchedulerJob", now=clock.now)

    async def handed_out_by_the_other_scheduler(tx: Transaction) -> None:
        await tx.execute(update(task_instance).values(queued_by_job_id=other_job))

    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        await db.run(handed_out_by_the_other_scheduler)
        await clear_task_instances(db, "cleared", now=clock.now, wake=running.handle.wake)
        await running.settle()
        await running.settle()
        assert executor.terminated == []
        assert (await tis(db, "cleared"))["work"]["state"] == "restarting"
        # The try's heartbeat told it to stop: it ends, and a new try runs.
        await executor.release(outcome=TI.FAILED)
        await executor.wait_submitted(2)
        await executor.release()
        await running.wait_run_state("cleared", "success")
    assert executor.terminated == []
