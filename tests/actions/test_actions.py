"""Operator actions against a running scheduler: trigger, clear, mark, pause."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_sc.actions import (
    DagNotFound,
    DagRunExists,
    clear_task_instances,
    mark_dag_run,
    mark_task_instances,
    set_dag_paused,
    set_dags_paused,
    trigger_dag_run,
)
from airflow_sc.db import Database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.sdk import DAG, Param, ParamValidationError, PythonOperator
from tests.scheduler.dags import (
    T0,
    FakeClock,
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


def manual_dag(dag_id: str = "manual") -> DAG:
    with DAG(
        dag_id,
        schedule=None,
        start_date=T0 - timedelta(days=1),
        params={"size": Param(3, type="integer", minimum=1)},
    ) as dag:
        a = PythonOperator(task_id="a", python_callable=noop)
        b = PythonOperator(task_id="b", python_callable=noop)
        c = PythonOperator(task_id="c", python_callable=noop)
        a >> b >> c
    return dag


async def test_trigger_runs_a_manual_run_with_validated_conf(
    db: Database, clock: FakeClock
) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
        with pytest.raises(ParamValidationError, match="size"):
            await trigger_dag_run(db, "manual", now=clock.now, conf={"size": 0})
        with pytest.raises(DagNotFound):
            await trigger_dag_run(db, "nope", now=clock.now)
        run = await trigger_dag_run(
            db, "manual", now=clock.now, conf={"size": 5}, wake=running.handle.wake
        )
        found = await running.wait_run_state("manual", "success")
    assert run.logical_date is None
    assert [(r["run_type"], r["run_id"], r["conf"]) for r in found] == [
        ("manual", f"manual__{clock.now.isoformat()}", {"size": 5})
    ]
    with pytest.raises(DagRunExists):
        await trigger_dag_run(db, "manual", now=clock.now, run_id=run.run_id)


async def test_clear_failed_with_downstream_reruns_them(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    failing = {"b"}

    def outcome(workload: Workload) -> TI:
        return TI.FAILED if workload.key.task_id in failing else TI.SUCCESS

    executor = memory_executor(db, clock, outcome=outcome)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await running.wait_run_state("manual", "failed")
        assert states(await tis(db, "manual")) == {
            "a": "success",
            "b": "failed",
            "c": "upstream_failed",
        }
        preview = await clear_task_instances(
            db, "manual", now=clock.now, only_failed=True, dry_run=True
        )
        assert sorted(c.task_id for c in preview) == ["b", "c"]
        assert (await runs(db, "manual"))[0]["state"] == "failed"  # dry run wrote nothing
        failing.clear()
        cleared = await clear_task_instances(
            db,
            "manual",
            now=clock.now,
            run_ids=[run.run_id],
            task_ids=["b"],
            include_downstream=True,
            wake=running.handle.wake,
        )
        assert sorted(c.task_id for c in cleared) == ["b", "c"]
        await running.wait_run_state("manual", "success")
    assert [w.key.task_id for w in executor.submitted] == ["a", "b", "b", "c"]
    assert [w.key.try_number for w in executor.submitted if w.key.task_id == "b"] == [1, 2]
    assert (await runs(db, "manual"))[0]["clear_number"] == 1


async def test_mark_task_success_lets_the_run_go_on(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await executor.wait_submitted(1)
        changed = await mark_task_instances(
            db, "manual", run.run_id, ["a"], "success", now=clock.now, wake=running.handle.wake
        )
        assert [(m.task_id, m.map_index) for m in changed] == [("a", -1)]
        await executor.wait_submitted(2)
        assert executor.submitted[1].key.task_id == "b"
        await executor.release()  # a's own (late) report is ignored; b succeeds
        await executor.wait_submitted(3)
        await executor.release()
        await running.wait_run_state("manual", "success")


async def test_mark_run_failed_stops_it(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await executor.wait_submitted(1)
        await mark_dag_run(
            db, "manual", run.run_id, "failed", now=clock.now, wake=running.handle.wake
        )
        await executor.release()
    assert [r["state"] for r in await runs(db, "manual")] == ["failed"]
    assert states(await tis(db, "manual")) == {"a": "failed", "b": "skipped", "c": "skipped"}


async def test_paused_dag_does_not_start_triggered_runs(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    await set_dag_paused(db, "manual", True)
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await running.settle()
        assert [r["state"] for r in await runs(db, "manual")] == ["queued"]
        await set_dag_paused(db, "manual", False, wake=running.handle.wake)
        await running.wait_run_state("manual", "success")
    with pytest.raises(DagNotFound):
        await set_dag_paused(db, "nope", True)


async def test_mark_dry_run_and_skipped(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await executor.wait_submitted(1)
        preview = await mark_task_instances(
            db, "manual", run.run_id, ["b"], "skipped", now=clock.now,
            include_downstream=True, dry_run=True,
        )  # fmt: skip
        assert [m.task_id for m in preview] == ["b", "c"]
        assert states(await tis(db, "manual"))["b"] is None  # the dry run wrote nothing
        await mark_task_instances(
            db, "manual", run.run_id, ["b"], "skipped", now=clock.now,
            include_downstream=True, wake=running.handle.wake,
        )  # fmt: skip
        await executor.release()
        await running.wait_run_state("manual", "success")
    assert states(await tis(db, "manual")) == {"a": "success", "b": "skipped", "c": "skipped"}


async def test_a_finished_run_set_to_queued_runs_again(db: Database, clock: FakeClock) -> None:
    await store_dag(db, manual_dag(), now=clock.now)
    # Paused, the DAG's queued runs wait: what the actions wrote can be read back.
    assert await set_dags_paused(db, ["manual", "nope"], True) == ["manual"]
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        run = await trigger_dag_run(db, "manual", now=clock.now, wake=running.handle.wake)
        await mark_dag_run(db, "manual", run.run_id, "success", now=clock.now)
        await mark_dag_run(db, "manual", run.run_id, "queued", now=clock.now)
        (queued,) = await runs(db, "manual")
        assert (queued["state"], queued["start_date"], queued["end_date"]) == ("queued", None, None)
        unpaused = await set_dags_paused(db, ["manual"], False, wake=running.handle.wake)
        assert unpaused == ["manual"]
        (again,) = await running.wait_run_state("manual", "success")
    assert again["start_date"] is not None
