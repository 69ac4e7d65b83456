"""schedule_tis and executor_events: trigger rules, failure propagation, branches, retries,
dagrun_timeout, run completion and DAG callbacks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import callback_request
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.sdk import DAG, PythonOperator, TriggerRule
from airflow_sc.testing import InMemoryExecutor, Outcome
from tests.scheduler.dags import (
    T0,
    FakeClock,
    history,
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


def on_failure(context: object) -> None:
    return None


def fail_tasks(*task_ids: str) -> object:
    def outcome(workload: Workload) -> TI:
        return TI.FAILED if workload.key.task_id in task_ids else TI.SUCCESS

    return outcome


async def callbacks(db: Database) -> list[dict[str, object]]:
    async def body(tx: Transaction) -> list[dict[str, object]]:
        return [dict(r) for r in (await tx.execute(select(callback_request))).mappings()]

    return await db.run(body, write=False)


async def test_failure_propagates_as_upstream_failed_and_fails_the_run(
    db: Database, clock: FakeClock
) -> None:
    with DAG(
        "failing",
        schedule="@daily",
        start_date=T0 - timedelta(days=1),
        on_failure_callback=on_failure,
    ) as dag:
        extract = PythonOperator(task_id="extract", python_callable=noop)
        load = PythonOperator(task_id="load", python_callable=noop)
        report = PythonOperator(task_id="report", python_callable=noop)
        cleanup = PythonOperator(
            task_id="cleanup", python_callable=noop, trigger_rule=TriggerRule.ALL_DONE
        )
        alert = PythonOperator(
            task_id="alert", python_callable=noop, trigger_rule=TriggerRule.ONE_FAILED
        )
        extract >> load >> report
        load >> [cleanup, alert]
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=fail_tasks("load"))  # type: ignore[arg-type]
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("failing", "failed")
    assert states(await tis(db, "failing")) == {
        "extract": "success",
        "load": "failed",
        "report": "upstream_failed",
        "cleanup": "success",
        "alert": "success",
    }
    assert "report" not in {w.key.task_id for w in executor.submitted}
    [request] = await callbacks(db)
    assert request["callback_type"] == "dag_failure"
    assert request["callback_data"]["dag_id"] == "failing"  # type: ignore[index]


async def test_branch_skips_propagate_and_the_run_succeeds(db: Database, clock: FakeClock) -> None:
    with DAG("branching", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        branch = PythonOperator(task_id="branch", python_callable=noop)
        left = PythonOperator(task_id="left", python_callable=noop)
        right = PythonOperator(task_id="right", python_callable=noop)
        after_right = PythonOperator(task_id="after_right", python_callable=noop)
        join = PythonOperator(
            task_id="join",
            python_callable=noop,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        )
        branch >> [left, right]
        right >> after_right
        [left, after_right] >> join

    def outcome(workload: Workload) -> Outcome:
        if workload.key.task_id == "branch":
            return Outcome(skip=("right",))
        return Outcome()

    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=outcome)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("branching", "success")
    assert states(await tis(db, "branching")) == {
        "branch": "success",
        "left": "success",
        "right": "skipped",
        "after_right": "skipped",
        "join": "success",
    }


async def test_retry_waits_for_its_delay_then_runs_a_new_try(
    db: Database, clock: FakeClock
) -> None:
    with DAG("retrying", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(
            task_id="flaky",
            python_callable=noop,
            retries=2,
            retry_delay=timedelta(minutes=5),
            retry_exponential_backoff=True,
        )
    tries: list[int] = []

    def outcome(workload: Workload) -> TI:
        tries.append(workload.key.try_number)
        return TI.FAILED if workload.key.try_number == 1 else TI.SUCCESS

    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=outcome)
    async with open_scheduler(db, [executor], clock) as running:

        async def up_for_retry() -> bool:
            found = await tis(db, "retrying")
            return found.get("flaky", {}).get("state") == "up_for_retry"

        await running.wait_for(up_for_retry)
        first_id = executor.submitted[0].ti_id
        # Not before the backoff (5 to 10 minutes for the first retry) has passed.
        clock.advance(timedelta(minutes=4))
        await running.settle()
        assert tries == [1]
        clock.advance(timedelta(minutes=7))
        running.handle.wake([])
        await running.wait_run_state("retrying", "success")
    assert tries == [1, 2]
    assert executor.submitted[1].ti_id != first_id  # a new id per try
    assert [(h["try_number"], h["state"]) for h in await history(db, "retrying")] == [
        (1, "up_for_retry"),
        (2, "success"),
    ]


@pytest.mark.parametrize(
    ("task_delay", "policy_delay", "too_early", "late_enough"),
    [
        # A policy's delay replaces the task's rule, shorter or longer than it.
        (timedelta(hours=1), timedelta(minutes=2), timedelta(minutes=1), timedelta(minutes=3)),
        (timedelta(minutes=1), timedelta(minutes=30), timedelta(minutes=20), timedelta(minutes=31)),
    ],
)
async def test_a_retry_policy_delay_replaces_the_task_retry_delay(
    db: Database,
    clock: FakeClock,
    task_delay: timedelta,
    policy_delay: timedelta,
    too_early: timedelta,
    late_enough: timedelta,
) -> None:
    with DAG("policy_delay", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="flaky", python_callable=noop, retries=1, retry_delay=task_delay)
    tries: list[int] = []

    def outcome(workload: Workload) -> Outcome:
        tries.append(workload.key.try_number)
        if workload.key.try_number == 1:
            return Outcome(TI.FAILED, retry_delay=policy_delay.total_seconds())
        return Outcome(TI.SUCCESS)

    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=outcome)
    async with open_scheduler(db, [executor], clock) as running:

        async def up_for_retry() -> bool:
            found = await tis(db, "policy_delay")
            return found.get("flaky", {}).get("state") == "up_for_retry"

        await running.wait_for(up_for_retry)
        clock.advance(too_early)
        running.handle.wake([])
        await running.settle()
        assert tries == [1]
        clock.advance(late_enough - too_early)
        running.handle.wake([])
        await running.wait_run_state("policy_delay", "success")
    assert tries == [1, 2]
    assert [
        (h["try_number"], h["next_retry_delay"]) for h in await history(db, "policy_delay")
    ] == [
        (1, policy_delay.total_seconds()),
        (2, None),  # a new try starts without the previous try's delay
    ]


async def test_retries_exhausted_fail_the_task(db: Database, clock: FakeClock) -> None:
    with DAG("hopeless", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(
            task_id="broken", python_callable=noop, retries=1, retry_delay=timedelta(minutes=1)
        )
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=lambda w: TI.FAILED)
    async with open_scheduler(db, [executor], clock) as running:

        async def up_for_retry() -> bool:
            found = await tis(db, "hopeless")
            return found.get("broken", {}).get("state") == "up_for_retry"

        await running.wait_for(up_for_retry)
        clock.advance(timedelta(minutes=2))
        running.handle.wake([])
        await running.wait_run_state("hopeless", "failed")
    assert [w.key.try_number for w in executor.submitted] == [1, 2]
    assert (await tis(db, "hopeless"))["broken"]["state"] == "failed"


async def test_fail_without_retry_is_final(db: Database, clock: FakeClock) -> None:
    with DAG("fatal", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="t", python_callable=noop, retries=3, retry_delay=timedelta(0))
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, outcome=lambda w: Outcome(TI.FAILED, retry_allowed=False))
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("fatal", "failed")
    assert len(executor.submitted) == 1


async def test_dagrun_timeout_fails_the_run_and_skips_what_is_left(
    db: Database, clock: FakeClock
) -> None:
    with DAG(
        "slow",
        schedule="@daily",
        start_date=T0 - timedelta(days=1),
        dagrun_timeout=timedelta(minutes=30),
    ) as dag:
        PythonOperator(task_id="long", python_callable=noop) >> PythonOperator(
            task_id="next", python_callable=noop
        )
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        clock.advance(timedelta(minutes=31))
        running.handle.wake([])
        await running.wait_run_state("slow", "failed")
        # The running try was told to stop; what it reports now changes nothing.
        assert executor.running == {}
    assert states(await tis(db, "slow")) == {"long": "skipped", "next": "skipped"}


async def test_stale_and_duplicate_events_are_ignored(db: Database, clock: FakeClock) -> None:
    with DAG("dupes", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="t", python_callable=noop)
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        [workload] = await _first(executor)
        await executor.release(outcome=TI.SUCCESS)
        await running.wait_run_state("dupes", "success")
        # The same try reports again (a duplicate) and claims failure: ignored.
        executor.running[workload.ti_id] = workload
        await executor.release(outcome=TI.FAILED)
        await running.settle()
    assert [r["state"] for r in await runs(db, "dupes")] == ["success"]
    assert len(await history(db, "dupes")) == 1


async def _first(executor: InMemoryExecutor) -> list[Workload]:
    await executor.wait_submitted(1)
    return list(executor.submitted[:1])


async def test_a_task_naming_an_executor_no_longer_configured_fails_with_the_reason(
    db: Database, clock: FakeClock
) -> None:
    """A DAG version stored while its executor was configured (the DAG processor now refuses
    it): the task fails with the reason as its note, nothing runs it elsewhere, and its
    downstream does not run."""
    with DAG("moved", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        extract = PythonOperator(task_id="extract", python_callable=noop)
        load = PythonOperator(task_id="load", python_callable=noop, executor="celery")
        report = PythonOperator(task_id="report", python_callable=noop)
        extract >> load >> report
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("moved", "failed")
    found = await tis(db, "moved")
    assert states(found) == {"extract": "success", "load": "failed", "report": "upstream_failed"}
    assert found["load"]["note"] == (
        "task 'load' of DAG 'moved' asks for executor 'celery'; this deployment runs local"
    )
    assert [w.key.task_id for w in executor.submitted] == ["extract"]
