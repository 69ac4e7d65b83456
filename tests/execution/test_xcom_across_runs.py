"""``ti.xcom_pull`` beyond the try's own run: another run by id, and earlier runs of the DAG
(``include_prior_dates``), through the execution API over HTTP and the local channel's
dispatcher."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from airflow_sc.db import Database
from airflow_sc.execution.errors import BadRequest
from airflow_sc.execution.protocol import Operation
from airflow_sc.sdk import EmptyOperator
from airflow_sc.task_runner.http_client import ExecutionApiClient
from airflow_sc.task_runner.task_instance import RuntimeTaskInstance
from tests.executors.world import add_run, add_ti, serve_execution_api

pytestmark = pytest.mark.anyio


async def seed(db: Database, service: Any) -> None:
    """Runs run_1..run_3 (logical dates in that order); `producer` pushed in the first two."""
    for run_id in ("run_1", "run_2", "run_3"):
        await add_run(db, run_id)
    for run_id, value in (("run_1", "v1"), ("run_2", "v2")):
        producer = await add_ti(db, "producer", run_id=run_id, state="success")
        await service.set_xcom(producer, "return_value", value, task_id=None)


async def test_prior_dates_and_other_runs_over_http(db: Database) -> None:
    async with serve_execution_api(db) as api:
        await seed(db, api.service)
        consumer = await add_ti(db, "consumer", run_id="run_3")
        first = await add_ti(db, "consumer", run_id="run_1")
        http = ExecutionApiClient(api.url, ti_id=consumer, token=api.tokens.issue(consumer))

        def pulls() -> list[Any]:
            http.start()
            ti = RuntimeTaskInstance(
                task=EmptyOperator(task_id="consumer"),
                dag_id="behaviours",
                run_id="run_3",
                try_number=1,
                max_tries=0,
                client=http,
            )
            return [
                ti.xcom_pull(task_ids="producer"),
                ti.xcom_pull(task_ids="producer", include_prior_dates=True),
                ti.xcom_pull(task_ids="producer", run_id="run_1"),
                ti.xcom_pull(task_ids=["producer"], run_id="run_9", default="none"),
            ]

        try:
            assert await anyio.to_thread.run_sync(pulls) == [None, "v2", "v1", ["none"]]
        finally:
            http.close()
        # The oldest run sees no later value; the local channel's arguments are the same.
        token = api.tokens.issue(first)
        answer = await api.dispatcher.call(
            Operation.XCOM_PULL,
            token,
            {"task_id": "producer", "key": "return_value", "include_prior_dates": True},
            acting_try=first,
        )
        assert answer == "v1"
        with pytest.raises(BadRequest, match="include_prior_dates"):
            await api.dispatcher.call(
                Operation.XCOM_PULL,
                token,
                {"task_id": "producer", "key": "return_value", "include_prior_dates": "maybe"},
                acting_try=first,
            )


async def test_in_process_tries_pull_from_a_worker_thread_only(db: Database) -> None:
    from airflow_sc.execution.service import ExecutionService
    from airflow_sc.executors.inprocess import SnapshotTaskClient

    service = ExecutionService(db)
    await seed(db, service)
    consumer = await add_ti(db, "consumer", run_id="run_3")
    client = SnapshotTaskClient("consumer", -1, {}, service=service, ti_id=consumer)
    with pytest.raises(RuntimeError, match="cannot wait for it on the event loop"):
        client.xcom_pull("producer", "return_value", include_prior_dates=True)

    def pull() -> Any:
        return client.xcom_pull("producer", "return_value", include_prior_dates=True)

    assert await anyio.to_thread.run_sync(pull) == "v2"
