"""A real world for tasks that use secrets: a database holding `secret_tasks` runs, the
execution API on a real socket with a cached chain (environment + metastore) and a key."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from airflow_sc.api.execution import create_execution_app
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag, dag_run, task_instance, variable
from airflow_sc.domain import TaskInstanceKey
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.service import ExecutionService
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.executors.base import Workload
from airflow_sc.secrets import (
    Connection,
    MetastoreBackend,
    SecretsCache,
    SecretsCipher,
    SecretsMasker,
    SecretsSettings,
    build_secrets,
    generate_fernet_key,
)
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.testing import open_service_group
from tests.executors.world import SECRET, _serve

DAG_FILE = Path(__file__).parent / "dags" / "secret_tasks.py"
DAG_ID = "secret_tasks"
RUN_ID = "run_1"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

PASSWORD = "pw-Wh4t/ever:@%"
TOKEN = "tok-1234567890"
#: What the metastore holds when a test starts (the environment adds `user`).
ENVIRON = {"AIRFLOW_VAR_USER": "alice"}


async def seed(db: Database, cipher: SecretsCipher) -> None:
    """The DAG, one running run, and the metastore's connection and variables."""

    async def body(tx: Transaction) -> None:
        await tx.execute(insert(dag).values(dag_id=DAG_ID, fileloc=str(DAG_FILE)))
        await tx.execute(
            insert(dag_run).values(
                dag_id=DAG_ID,
                run_id=RUN_ID,
                state="running",
                run_type="manual",
                run_after=NOW,
                logical_date=NOW,
                data_interval_start=NOW,
                data_interval_end=NOW,
                start_date=NOW,
                conf={},
            )
        )

    await db.run(body)
    metastore = MetastoreBackend(db, cipher)
    await metastore.set_connection(
        Connection("warehouse", "postgres", host="db.local", login="etl", password=PASSWORD)
    )
    await metastore.set_variable("api_token", TOKEN)
    await metastore.set_variable("limits", '{"n": 3}')


async def add_ti(db: Database, task_id: str) -> str:
    ti_id = str(uuid.uuid4())

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(task_instance).values(
                id=ti_id,
                dag_id=DAG_ID,
                run_id=RUN_ID,
                task_id=task_id,
                state="queued",
                try_number=1,
                max_tries=0,
                pool="default_pool",
            )
        )

    await db.run(body)
    return ti_id


def workload(ti_id: str, task_id: str, *, is_async: bool = False) -> Workload:
    return Workload(
        ti_id=ti_id,
        key=TaskInstanceKey(DAG_ID, RUN_ID, task_id, -1, 1),
        dag_fileloc=str(DAG_FILE),
        dag_hash="x",
        is_async=is_async,
    )


def log_text(logs: Path, task_id: str) -> str:
    path = try_log_path(logs, dag_id=DAG_ID, run_id=RUN_ID, task_id=task_id, try_number=1)
    return path.read_text()


async def stored_variable(db: Database, key: str) -> Any:
    """The raw `variable` row (to see that a task's write is encrypted)."""

    async def body(tx: Transaction) -> Any:
        rows = await tx.execute(select(variable).where(variable.c.key == key))
        return rows.one_or_none()

    return await db.run(body, write=False)


def service_for(db: Database, cipher: SecretsCipher) -> ExecutionService:
    """The execution service over the real chain (environment + metastore) behind its cache."""
    secrets = build_secrets(
        SecretsSettings(order=("environment", "metastore")),
        environ=ENVIRON,
        database=db,
        cipher=cipher,
        masker=SecretsMasker(),
    )
    return ExecutionService(db, secrets=secrets, cipher=cipher)


@dataclass
class SecretsWorld:
    db: Database
    cipher: SecretsCipher
    service: ExecutionService
    dispatcher: ExecutionDispatcher
    url: str

    @property
    def cache(self) -> SecretsCache:
        assert isinstance(self.service.secrets, SecretsCache)
        return self.service.secrets


@asynccontextmanager
async def open_secrets_world(db: Database) -> AsyncIterator[SecretsWorld]:
    cipher = SecretsCipher(generate_fernet_key())
    await seed(db, cipher)
    service = service_for(db, cipher)
    dispatcher = ExecutionDispatcher(service, ExecutionTokens(SECRET))
    async with open_service_group() as tg:
        endpoint = await tg.start(_serve, create_execution_app(dispatcher))
        yield SecretsWorld(db, cipher, service, dispatcher, endpoint.url)
