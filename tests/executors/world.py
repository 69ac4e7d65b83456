"""A small real world for executor tests: a database with runs and task instances, and
the execution API served on a real socket."""

from __future__ import annotations

import functools
import importlib.util
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import insert, select

from airflow_sc.api.execution import create_execution_app
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag, dag_run, serialized_dag, task_instance
from airflow_sc.domain import TaskInstanceKey
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.port import DagRunTriggers
from airflow_sc.execution.service import ExecutionService
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.executors.base import Workload
from airflow_sc.runtime import serve_http
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.serialization.encode import encode_dag
from airflow_sc.testing import open_service_group

DAG_FILE = Path(__file__).parent / "dags" / "behaviours.py"
DAG_ID = "behaviours"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "test-signing-secret-of-enough-length"
VERSION_ID = "00000000-0000-4000-8000-00000000b0b0"


@functools.cache
def serialized_dag_data() -> dict[str, Any]:
    """The behaviours DAG as the DAG processor stores it (read once per test session)."""
    spec = importlib.util.spec_from_file_location("_behaviours_dag", DAG_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return encode_dag(module.dag)


async def add_run(
    db: Database, run_id: str = "run_1", *, conf: dict[str, Any] | None = None
) -> None:
    """A running run of the behaviours DAG, created with its stored version."""

    async def body(tx: Transaction) -> None:
        runs = await tx.scalars(select(dag_run.c.id).where(dag_run.c.dag_id == DAG_ID))
        logical_date = NOW + timedelta(days=len(runs))
        exists = await tx.scalar(select(dag.c.dag_id).where(dag.c.dag_id == DAG_ID))
        if exists is None:
            await tx.execute(insert(dag).values(dag_id=DAG_ID, fileloc=str(DAG_FILE)))
            await tx.execute(
                insert(serialized_dag).values(
                    id=VERSION_ID,
                    dag_id=DAG_ID,
                    data=serialized_dag_data(),
                    dag_hash="behaviours",
                    created_at=NOW,
                    last_updated=NOW,
                )
            )
        await tx.execute(
            insert(dag_run).values(
                dag_id=DAG_ID,
                run_id=run_id,
                state="running",
                run_type="manual",
                run_after=NOW,
                logical_date=logical_date,
                data_interval_start=logical_date,
                data_interval_end=logical_date,
                start_date=NOW,
                conf=conf or {},
                created_dag_version_id=VERSION_ID,
            )
        )

    await db.run(body)


async def add_ti(
    db: Database,
    task_id: str,
    *,
    run_id: str = "run_1",
    state: str | None = "queued",
    try_number: int = 1,
    max_tries: int = 0,
) -> str:
    ti_id = str(uuid.uuid4())

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(task_instance).values(
                id=ti_id,
                dag_id=DAG_ID,
                run_id=run_id,
                task_id=task_id,
                state=state,
                try_number=try_number,
                max_tries=max_tries,
                pool="default_pool",
            )
        )

    await db.run(body)
    return ti_id


async def ti_row(db: Database, ti_id: str) -> Any:
    async def body(tx: Transaction) -> Any:
        return (await tx.execute(select(task_instance).where(task_instance.c.id == ti_id))).one()

    return await db.run(body, write=False)


async def ti_state(db: Database, task_id: str, run_id: str = "run_1") -> str | None:
    async def body(tx: Transaction) -> str | None:
        return await tx.scalar(
            select(task_instance.c.state).where(
                task_instance.c.task_id == task_id, task_instance.c.run_id == run_id
            )
        )

    return await db.run(body, write=False)


def workload(
    ti_id: str,
    task_id: str,
    *,
    run_id: str = "run_1",
    try_number: int = 1,
    execution_timeout: float | None = None,
    is_async: bool = False,
) -> Workload:
    return Workload(
        ti_id=ti_id,
        key=TaskInstanceKey(DAG_ID, run_id, task_id, -1, try_number),
        dag_fileloc=str(DAG_FILE),
        dag_hash="x",
        execution_timeout=execution_timeout,
        is_async=is_async,
    )


@dataclass
class ServedApi:
    url: str
    dispatcher: ExecutionDispatcher
    #: dag_run.id lists passed to the wake-up, one per committed finish batch.
    finished: list[list[int]]

    @property
    def service(self) -> ExecutionService:
        service = self.dispatcher.service
        assert isinstance(service, ExecutionService)
        return service

    @property
    def tokens(self) -> ExecutionTokens:
        return self.dispatcher.tokens


@asynccontextmanager
async def serve_execution_api(
    db: Database,
    *,
    secrets: SecretsBackend | None = None,
    tokens: ExecutionTokens | None = None,
    dag_runs: DagRunTriggers | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[ServedApi]:
    #: dag_run.id lists passed to the wake-up, one per committed finish batch.
    finished: list[list[int]] = []

    def on_finished(run_pks: Collection[int]) -> None:
        finished.append(list(run_pks))

    service = ExecutionService(
        db,
        secrets=secrets,
        on_ti_finished=on_finished,
        dag_runs=dag_runs,
        **({} if clock is None else {"clock": clock}),
    )
    dispatcher = ExecutionDispatcher(service, tokens or ExecutionTokens(SECRET))
    app = create_execution_app(dispatcher)
    async with open_service_group() as tg:
        endpoint = await tg.start(_serve, app)
        yield ServedApi(endpoint.url, dispatcher, finished)


async def _serve(app: Any, *, task_status: Any) -> None:
    await serve_http(
        app,
        host="127.0.0.1",
        port=0,
        drain_timeout=1,
        shutdown_trigger=anyio.sleep_forever,
        task_status=task_status,
    )


def group_alive(pgid: int) -> bool:
    """Whether any process of the group `pgid` still exists (no psutil needed)."""
    import os

    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


Clock = Callable[[], float]
