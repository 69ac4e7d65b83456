"""A DAG's fail_fast and max_consecutive_failed_dag_runs, enforced by the scheduler.

fail_fast: when a task fails for good, the run's running task instances fail (their tries
are stopped), every other unfinished one is skipped, finished ones keep their state, and the
run fails. A try that will be retried does not stop anything.
max_consecutive_failed_dag_runs: after that many failed runs in a row the DAG is paused.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from airflow_sc.actions import trigger_dag_run
from airflow_sc.db import Database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.domain.fail_fast import should_pause, stop_remaining
from airflow_sc.executors.base import Workload
from airflow_sc.scheduler.changes import Change, Note
from airflow_sc.sdk import DAG, DagDefinitionError, PythonOperator
from airflow_sc.testing import InMemoryExecutor
from tests.scheduler.dags import (
    T0,
    FakeClock,
    changes_of,
    execution_service,
    memory_executor,
    open_scheduler,
    runs,
    states,
    store_dag,
    tis,
)

pytestmark = pytest.mark.anyio
TI = TaskInstanceState


def noop() -> None:
    return None


def fail_fast_dag(retries: int = 0) -> DAG:
    #  first -> [slow, breaks] ; breaks -> after ; slow -> done
    with DAG("stopper", schedule=None, start_date=T0 - timedelta(days=1), fail_fast=True) as dag:
        first = PythonOperator(task_id="first", python_callable=noop)
        slow = PythonOperator(task_id="slow", python_callable=noop)
        breaks = PythonOperator(task_id="breaks", python_callable=noop, retries=retries)
        after = PythonOperator(task_id="after", python_callable=noop)
        done = PythonOperator(task_id="done", python_callable=noop)
        first >> [slow, breaks]
        breaks >> after
        slow >> done
    return dag


class Stoppable(InMemoryExecutor):
    """Holds every try until released; records what it was asked to stop."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        super().__init__(service=execution_service(db, clock), hold=True, clock=clock)
        self.terminated: list[tuple[str, str]] = []

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        self.terminated.append((ti_id, reason))
        await super().terminate(ti_id, reason=reason)


def by_task(executor: InMemoryExecutor) -> dict[str, Workload]:
    return {w.key.task_id: w for w in executor.submitted}


async def test_a_failure_stops_the_rest_of_the_run(db: Database, clock: FakeClock) -> None:
    await store_dag(db, fail_fast_dag(), now=clock.now)
    executor = Stoppable(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "stopper", now=clock.now, wake=running.handle.wake)
        await executor.wait_submitted(1)
        await executor.release()
        with anyio.fail_after(10):
            await executor.wait_submitted(3)
        submitted = by_task(executor)
        # `slow` is running; `breaks` fails for good.
        await executor.release([submitted["breaks"].ti_id], TI.FAILED)
        await running.wait_run_state("stopper", "failed")
        found = states(await tis(db, "stopper", run.run_id))
    assert found == {
        "first": "success",
        "breaks": "failed",
        "slow": "failed",  # it was running: fail_fast fails it
        "after": "skipped",
        "done": "skipped",
    }
    assert executor.terminated == [(submitted["slow"].ti_id, "fail_fast")]


async def test_a_try_that_will_be_retried_stops_nothing(db: Database, clock: FakeClock) -> None:
    await store_dag(db, fail_fast_dag(retries=1), now=clock.now)
    executor = Stoppable(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "stopper", now=clock.now, wake=running.handle.wake)
        await executor.wait_submitted(1)
        await executor.release()
        with anyio.fail_after(10):
            await executor.wait_submitted(3)
        await executor.release([by_task(executor)["breaks"].ti_id], TI.FAILED)
        await running.wait_for(lambda: _state_is(db, run.run_id, "breaks", TI.UP_FOR_RETRY.value))
        await running.settle()
        found = states(await tis(db, "stopper", run.run_id))
    assert found["slow"] == "running"
    assert found["after"] is None
    assert executor.terminated == []


async def _state_is(db: Database, run_id: str, task_id: str, state: str) -> bool:
    return states(await tis(db, "stopper", run_id))[task_id] == state


def test_fail_fast_needs_the_default_trigger_rule() -> None:
    with (
        pytest.raises(DagDefinitionError, match="fail_fast DAG's tasks must use the all_success"),
        DAG("bad", schedule=None, start_date=T0, fail_fast=True),
    ):
        PythonOperator(task_id="a", python_callable=noop) >> PythonOperator(
            task_id="cleanup", python_callable=noop, trigger_rule="all_done"
        )


def test_stop_remaining_fails_running_and_skips_the_unfinished() -> None:
    moves = stop_remaining(
        {"a": TI.RUNNING, "b": None, "c": TI.QUEUED, "d": TI.SUCCESS, "e": TI.UP_FOR_RETRY}
    )
    assert moves == {TI.FAILED: ["a"], TI.SKIPPED: ["b", "c", "e"]}


@pytest.mark.parametrize(
    ("limit", "newest", "pause"),
    [
        (0, ["failed"] * 5, False),
        (3, ["failed", "failed"], False),
        (3, ["failed", "failed", "failed"], True),
        (3, ["failed", "success", "failed", "failed"], False),
        (2, ["failed", "failed", "success"], True),
    ],
)
def test_should_pause(limit: int, newest: list[str], pause: bool) -> None:
    assert should_pause(limit, newest) is pause


async def test_consecutive_failed_runs_pause_the_dag(db: Database, clock: FakeClock) -> None:
    with DAG(
        "flaky",
        schedule=None,
        start_date=T0 - timedelta(days=1),
        max_consecutive_failed_dag_runs=2,
    ) as dag:
        PythonOperator(task_id="work", python_callable=noop)
    await store_dag(db, dag, now=clock.now)
    verdicts = iter([TI.FAILED, TI.SUCCESS, TI.FAILED, TI.FAILED])
    executor = memory_executor(db, clock, outcome=lambda workload: next(verdicts))
    feed = changes_of(db)
    heard: list[Note] = []
    with feed.subscribe(heard.append):
        await _pause_after_two_failures(db, clock, executor)
    # What shows DAGs (the API's list cache) hears of the pause.
    assert any(Change.DAG_CHANGED in note.changes for note in heard)
    assert [r["state"] for r in await runs(db, "flaky")] == [
        "failed",
        "success",
        "failed",
        "failed",
    ]


async def _pause_after_two_failures(
    db: Database, clock: FakeClock, executor: InMemoryExecutor
) -> None:
    async with open_scheduler(db, [executor], clock) as running:
        for count, expected in enumerate(["failed", "success", "failed"], start=1):
            clock.advance(timedelta(minutes=1))
            await trigger_dag_run(db, "flaky", now=clock.now, wake=running.handle.wake)
            await running.wait_run_state("flaky", expected, count=(count + 1) // 2)
            assert not await _paused(db, "flaky")
        clock.advance(timedelta(minutes=1))
        await trigger_dag_run(db, "flaky", now=clock.now, wake=running.handle.wake)
        await running.wait_run_state("flaky", "failed", count=3)

        async def paused() -> bool:
            return await _paused(db, "flaky")

        await running.wait_for(paused)


async def _paused(db: Database, dag_id: str) -> bool:
    from sqlalchemy import select

    from airflow_sc.db import Transaction
    from airflow_sc.db.models import dag

    async def body(tx: Transaction) -> bool:
        return bool(await tx.scalar(select(dag.c.is_paused).where(dag.c.dag_id == dag_id)))

    return await db.run(body, write=False)
