"""Runs a task starts (TriggerDagRunOperator) through the execution API over HTTP: the run
as Airflow 3.3 records it, conf checked against the DAG's params, an existing run left
alone or cleared, a paused DAG refused when asked, the run's state read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import anyio
import pytest

from airflow_sc.actions import OperatorTriggers, set_dag_paused
from airflow_sc.db import Database
from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome
from airflow_sc.sdk import DAG, Param, PythonOperator
from airflow_sc.task_runner.http_client import ExecutionApiClient, ExecutionApiError
from tests.executors.world import serve_execution_api
from tests.scheduler.dags import (
    T0,
    FakeClock,
    changes_of,
    memory_executor,
    open_scheduler,
    runs,
    store_dag,
)

pytestmark = pytest.mark.anyio


def noop() -> None:
    return None


def target_dag() -> DAG:
    with DAG(
        "target",
        schedule=None,
        start_date=T0 - timedelta(days=1),
        params={"size": Param(3, type="integer", minimum=1)},
    ) as dag:
        PythonOperator(task_id="work", python_callable=noop)
    return dag


class Client:
    """A try's HTTP client of the served execution API, called from a worker thread."""

    def __init__(self, http: ExecutionApiClient) -> None:
        self.http = http

    async def trigger(self, **kwargs: Any) -> TriggerOutcome:
        request = DagRunTrigger(**{"dag_id": "target", "run_id": "child", **kwargs})
        outcome: TriggerOutcome = await anyio.to_thread.run_sync(self.http.trigger_dag_run, request)
        return outcome

    async def state(self, run_id: str = "child") -> str | None:
        state: str | None = await anyio.to_thread.run_sync(
            self.http.dag_run_state, "target", run_id
        )
        return state


@pytest.fixture
async def client(db: Database, clock: FakeClock) -> AsyncIterator[Client]:
    await store_dag(db, target_dag(), now=clock.now)
    triggers = OperatorTriggers(db, wake=changes_of(db).operator_changed)
    async with serve_execution_api(db, dag_runs=triggers, clock=clock) as api:
        token = api.tokens.issue("the-controller-try")
        http = ExecutionApiClient(api.url, ti_id="the-controller-try", token=token)
        try:
            yield Client(http)
        finally:
            http.close()


async def test_a_triggered_run_is_recorded_as_operator_triggered(
    db: Database, clock: FakeClock, client: Client
) -> None:
    outcome = await client.trigger(
        conf={"size": 5}, logical_date=T0, run_after=T0 + timedelta(hours=1), note="from ctl"
    )
    assert outcome is TriggerOutcome.CREATED
    [run] = await runs(db, "target")
    assert {k: run[k] for k in ("run_id", "state", "run_type", "triggered_by", "conf", "note")} == {
        "run_id": "child",
        "state": "queued",
        "run_type": "operator_triggered",
        "triggered_by": "operator",
        "conf": {"size": 5},
        "note": "from ctl",
    }
    assert run["logical_date"] == T0
    assert run["run_after"] == T0 + timedelta(hours=1)
    assert await client.state() == "queued"
    assert await client.state("nope") is None


async def test_conf_must_satisfy_the_params_and_the_dag_must_exist(
    db: Database, client: Client
) -> None:
    with pytest.raises(ExecutionApiError, match=r"400.*size"):
        await client.trigger(conf={"size": 0})
    with pytest.raises(ExecutionApiError, match=r"404.*'elsewhere' not found"):
        await client.trigger(dag_id="elsewhere")
    assert await runs(db, "target") == []


async def test_the_run_id_and_conf_follow_the_same_rules_as_from_the_api(
    db: Database, client: Client
) -> None:
    with pytest.raises(ExecutionApiError, match="400"):
        await client.trigger(run_id="x" * 251)
    with pytest.raises(ExecutionApiError, match="400"):
        await client.trigger(run_id="has a space")
    with pytest.raises(ExecutionApiError, match="400"):
        await client.trigger(conf={"size": 2, "deep": nested(300)})
    assert await runs(db, "target") == []


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_an_existing_run_is_reported_or_cleared(
    db: Database, clock: FakeClock, client: Client
) -> None:
    async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
        assert await client.trigger() is TriggerOutcome.CREATED
        await running.wait_run_state("target", "success")
        assert await client.trigger() is TriggerOutcome.EXISTS
        # The same logical date under another run id: exists, even with reset_dag_run.
        assert await client.trigger(run_id="dated", logical_date=T0) is TriggerOutcome.CREATED
        assert (
            await client.trigger(run_id="other", logical_date=T0, reset_dag_run=True)
            is TriggerOutcome.EXISTS
        )
        await running.wait_run_state("target", "success", count=2)
        assert await client.trigger(reset_dag_run=True) is TriggerOutcome.RESET
        assert await client.state() == "queued"

        async def ran_again() -> bool:
            return await client.state() == "success"

        await running.wait_for(ran_again)
    found = {run["run_id"]: run["clear_number"] for run in await runs(db, "target")}
    assert found == {"child": 1, "dated": 0}


async def test_a_paused_dag_is_refused_only_when_asked(db: Database, client: Client) -> None:
    await set_dag_paused(db, "target", True)
    assert await client.trigger(fail_when_dag_is_paused=True) is TriggerOutcome.PAUSED
    assert await runs(db, "target") == []
    assert await client.trigger() is TriggerOutcome.CREATED
    assert [run["state"] for run in await runs(db, "target")] == ["queued"]
