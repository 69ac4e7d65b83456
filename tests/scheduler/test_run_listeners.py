"""DAG-run listeners: the scheduler announces runs it starts and finishes, off its path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from airflow_sc.db import Database
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import Workload
from airflow_sc.plugins import listeners
from airflow_sc.scheduler.run_listeners import RunNotices
from airflow_sc.sdk import DAG, PythonOperator
from tests.scheduler.dags import T0, FakeClock, memory_executor, open_scheduler, store_dag

pytestmark = pytest.mark.anyio
TI = TaskInstanceState


def noop() -> None:
    return None


class Recorder:
    """A listener plugin's hooks, as Airflow's documentation writes them."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str, str, str, str]] = []
        self.runs: list[Any] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self.blocked_on: str | None = None
        self.blocking = threading.Event()

    def _note(self, hook: str, dag_run: Any, msg: str) -> None:
        if dag_run.dag_id == self.blocked_on:
            self.blocking.set()
            self.release.wait(30)
        with self.lock:
            self.heard.append((hook, dag_run.dag_id, dag_run.run_id, dag_run.state, msg))
            self.runs.append(dag_run)

    @listeners.hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        self._note("running", dag_run, msg)

    @listeners.hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._note("success", dag_run, msg)

    @listeners.hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._note("failed", dag_run, msg)

    def of(self, dag_id: str) -> list[tuple[str, str, str]]:
        with self.lock:
            return [(hook, state, msg) for hook, d, _, state, msg in self.heard if d == dag_id]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    listener = Recorder()
    listeners.register_listener(listener)
    try:
        yield listener
    finally:
        listener.release.set()
        listeners.clear_listeners()


async def test_started_and_finished_runs_are_announced_with_airflow_messages(
    db: Database, clock: FakeClock, recorder: Recorder
) -> None:
    start = T0 - timedelta(days=1)
    with DAG("good", schedule="@daily", start_date=start) as good:
        PythonOperator(task_id="t", python_callable=noop)
    with DAG("bad", schedule="@daily", start_date=start) as bad:
        PythonOperator(task_id="broken", python_callable=noop)
    for dag in (good, bad):
        await store_dag(db, dag, now=clock.now)

    def outcome(workload: Workload) -> TI:
        return TI.FAILED if workload.key.dag_id == "bad" else TI.SUCCESS

    executor = memory_executor(db, clock, outcome=outcome)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("good", "success")
        await running.wait_run_state("bad", "failed")
    # Delivered by the time the scheduler has shut down.
    assert recorder.of("good") == [("running", "running", ""), ("success", "success", "success")]
    assert recorder.of("bad") == [("running", "running", ""), ("failed", "failed", "task_failure")]
    [dag_run] = {d.run_id: d for d in recorder.runs if d.dag_id == "good"}.values()
    assert dag_run.run_type == "scheduled"
    assert dag_run.run_id == f"scheduled__{dag_run.logical_date.isoformat()}"
    assert hasattr(dag_run.logical_date, "to_date_string")  # pendulum, as Airflow gives


async def test_a_timed_out_run_is_announced_as_timed_out(
    db: Database, clock: FakeClock, recorder: Recorder
) -> None:
    with DAG(
        "slow",
        schedule="@daily",
        start_date=T0 - timedelta(days=1),
        dagrun_timeout=timedelta(minutes=30),
    ) as dag:
        PythonOperator(task_id="hold", python_callable=noop)
    await store_dag(db, dag, now=clock.now)
    executor = memory_executor(db, clock, hold=True)
    async with open_scheduler(db, [executor], clock) as running:
        await executor.wait_submitted(1)
        clock.advance(timedelta(minutes=31))
        running.handle.wake([])
        await running.wait_run_state("slow", "failed")
    assert recorder.of("slow") == [("running", "running", ""), ("failed", "failed", "timed_out")]


async def test_a_slow_listener_never_holds_a_run_back(
    db: Database, clock: FakeClock, recorder: Recorder
) -> None:
    """The first run's hook blocks; both runs still finish, and every notice is delivered
    once the hook returns."""
    start = T0 - timedelta(days=1)
    with DAG("first", schedule="@daily", start_date=start) as first:
        PythonOperator(task_id="t", python_callable=noop)
    with DAG("second", schedule="@daily", start_date=start) as second:
        PythonOperator(task_id="t", python_callable=noop) >> PythonOperator(
            task_id="u", python_callable=noop
        )
    for dag in (first, second):
        await store_dag(db, dag, now=clock.now)
    recorder.blocked_on = "first"
    recorder.release.clear()
    executor = memory_executor(db, clock)
    async with open_scheduler(db, [executor], clock) as running:
        await running.wait_run_state("first", "success")
        await running.wait_run_state("second", "success")
        assert recorder.blocking.is_set()
        assert recorder.of("second") == []  # behind the slow hook, not lost
        recorder.release.set()
    assert [hook for hook, _, _ in recorder.of("first")] == ["running", "success"]
    assert [hook for hook, _, _ in recorder.of("second")] == ["running", "success"]


async def test_without_dag_run_hooks_nothing_is_noted(db: Database, clock: FakeClock) -> None:
    class TaskOnly:
        def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
            return None

    listeners.register_listener(TaskOnly())
    try:
        assert not RunNotices().enabled
        listeners.register_listener(Recorder())
        assert RunNotices().enabled
    finally:
        listeners.clear_listeners()
