"""`Variable`, `Connection` and `BaseHook` in task code, as Airflow 3's ``airflow.sdk`` names.

Tasks run through the task runner with an `InMemoryTaskClient` (what ``dags test`` uses);
the execution API paths are covered in ``tests/secrets/test_task_access.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import anyio
import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.sdk import DAG, BaseHook, Connection, Variable, task
from airflow_sc.sdk.bases.hook import BaseHook as BaseHookFromBases
from airflow_sc.sdk.context import ConnectionNotFound, RunInfo, VariableNotFound
from airflow_sc.secrets import Connection as StoredConnection
from airflow_sc.secrets import SecretsMasker
from airflow_sc.task_runner import InMemoryTaskClient, arun_task, run_task

TI = TaskInstanceState
LOG = logging.getLogger("tests.sdk.secrets")
WHEN = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
RUN = RunInfo(run_id="manual__test", run_after=WHEN, logical_date=WHEN, dag_id="d")


def client(**kwargs: Any) -> InMemoryTaskClient:
    fields: dict[str, Any] = {
        "variables": {"greeting": "hello", "cfg": '{"n": 3}', "api_token": "tok-abcdef"},
        "connections": {"warehouse": "postgres://bob:pw-123456@db.example:5432/dwh"},
    }
    return InMemoryTaskClient(dag_id="d", run_id=RUN.run_id, **(fields | kwargs))


def run_callable(func: Any, store: InMemoryTaskClient) -> Any:
    with DAG("d", schedule=None, start_date=WHEN):
        op = task(func)()
    outcome = run_task(
        op.operator,
        dag=op.operator.dag,
        run=RUN,
        try_number=1,
        client=store.for_task("body"),
        log=LOG,
    )
    assert outcome.state is TI.SUCCESS, outcome.error
    return outcome.return_value


def test_variables_are_read_with_defaults_and_json_and_written_for_later_tasks() -> None:
    store = client()

    def body() -> Any:
        Variable.set("limits", {"max": 5}, serialize_json=True)
        Variable.set("count", 7)  # stored as its text, as Airflow does
        return [
            Variable.get("greeting"),
            Variable.get("cfg", deserialize_json=True),
            Variable.get("missing", default=None),
            Variable.get("limits", deserialize_json=True),
            Variable.get("count"),
            Variable.delete("count"),
            Variable.get("count", default="gone"),
        ]

    assert run_callable(body, store) == ["hello", {"n": 3}, None, {"max": 5}, "7", True, "gone"]
    assert store.written["limits"] == '{\n  "max": 5\n}'


def test_a_missing_variable_or_connection_is_a_key_error_naming_it() -> None:
    def body() -> Any:
        errors = []
        for lookup in (lambda: Variable.get("nope"), lambda: Connection.get("nope")):
            try:
                lookup()
            except KeyError as exc:
                errors.append((type(exc).__name__, str(exc)))
        return errors

    assert run_callable(body, client()) == [
        ("VariableNotFound", "Variable 'nope' does not exist"),
        ("ConnectionNotFound", "Connection 'nope' does not exist"),
    ]


def test_connections_come_with_airflow_fields_uri_and_the_hook_name() -> None:
    def body() -> Any:
        conn = Connection.get("warehouse")
        hooked = BaseHook.get_connection("warehouse")
        return [
            type(conn) is Connection,
            isinstance(conn, StoredConnection),
            (conn.conn_type, conn.host, conn.login, conn.port, conn.schema),
            conn.get_uri(),
            hooked == conn,
        ]

    assert run_callable(body, client()) == [
        True,
        True,
        ("postgres", "db.example", "bob", 5432, "dwh"),
        "postgres://bob:pw-123456@db.example:5432/dwh",
        True,
    ]
    assert BaseHookFromBases is BaseHook


def test_what_a_task_reads_is_registered_with_the_masker() -> None:
    masker = SecretsMasker()

    def body() -> None:
        Connection.get("warehouse")
        Variable.get("api_token")
        Variable.get("greeting")  # not a sensitive key: not masked

    run_callable(body, client(masker=masker))
    assert masker.mask("pw-123456 tok-abcdef hello") == "*** *** hello"


def test_a_hook_subclass_builds_its_client_from_the_connection() -> None:
    class WarehouseHook(BaseHook):
        def __init__(self) -> None:
            super().__init__()

        def get_conn(self) -> str:
            return self.get_connection("warehouse").get_uri()

    def body() -> str:
        return WarehouseHook().get_conn()

    assert run_callable(body, client()).startswith("postgres://bob:")
    assert WarehouseHook().log.name.endswith("WarehouseHook")
    with pytest.raises(NotImplementedError):
        BaseHook().get_conn()


def test_outside_a_task_only_the_environment_is_read_and_writes_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_REGION", "eu")
    monkeypatch.setenv("AIRFLOW_SC_CONN_WAREHOUSE", "postgres://u:p@wh:5432/d")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://other@elsewhere/d")

    assert Variable.get("region") == "eu"
    assert Variable.get("absent", default="d") == "d"
    with pytest.raises(VariableNotFound):
        Variable.get("absent")
    assert Connection.get("warehouse").host == "wh"  # the AIRFLOW_SC_ spelling wins
    with pytest.raises(ConnectionNotFound):
        BaseHook.get_connection("absent")
    with pytest.raises(RuntimeError, match=r"Variable\.set needs a running task"):
        Variable.set("region", "us")
    with pytest.raises(RuntimeError, match=r"Variable\.delete needs a running task"):
        Variable.delete("region")


@pytest.mark.anyio
async def test_async_names_in_an_async_task() -> None:
    store = client()
    with DAG("d", schedule=None, start_date=WHEN):

        @task
        async def body() -> Any:
            await Variable.aset("seen", [1, 2], serialize_json=True)
            conn = await Connection.aget("warehouse")
            same = await Connection.async_get("warehouse")
            hooked = await BaseHook.aget_connection("warehouse")
            return [
                await Variable.aget("seen", deserialize_json=True),
                await Variable.aget("nope", default=0),
                conn.host,
                same == conn == hooked,
                await Variable.adelete("seen"),
            ]

        op = body()
    outcome = await arun_task(
        op.operator,
        dag=op.operator.dag,
        run=RUN,
        try_number=1,
        client=store.for_task("body"),
        log=LOG,
    )
    assert outcome.state is TI.SUCCESS, outcome.error
    assert outcome.return_value == [[1, 2], 0, "db.example", True, True]


class SyncOnlyClient:
    """A client without awaitable variants (like the HTTP one): records its threads."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def xcom_pull(self, task_id: str, key: str, map_index: int = -1) -> Any:
        return None

    def xcom_push(self, key: str, value: Any) -> None:
        pass

    def get_variable(self, key: str) -> str | None:
        self.threads.append(threading.get_ident())
        return "v"

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        self.threads.append(threading.get_ident())

    def delete_variable(self, key: str) -> bool:
        self.threads.append(threading.get_ident())
        return True

    def get_connection(self, conn_id: str) -> Any:
        self.threads.append(threading.get_ident())
        return StoredConnection(conn_id, "http", host="h")


@pytest.mark.anyio
async def test_async_names_call_a_sync_client_off_the_event_loop_thread() -> None:
    sync_client = SyncOnlyClient()
    with DAG("d", schedule=None, start_date=WHEN):

        @task
        async def body() -> Any:
            await Variable.aset("k", "v")
            value = await Variable.aget("k")
            conn = await Connection.aget("c")
            await Variable.adelete("k")
            return [value, conn.host, threading.get_ident()]

        op = body()
    outcome = await arun_task(
        op.operator, dag=op.operator.dag, run=RUN, try_number=1, client=sync_client, log=LOG
    )
    assert outcome.state is TI.SUCCESS, outcome.error
    value, host, loop_thread = outcome.return_value
    assert (value, host) == ("v", "h")
    assert len(sync_client.threads) == 4
    assert loop_thread not in sync_client.threads


@pytest.mark.anyio
async def test_concurrent_tries_each_see_their_own_client() -> None:
    first = client(variables={"who": "first"})
    second = client(variables={"who": "second"})
    seen: dict[str, str] = {}
    with DAG("d", schedule=None, start_date=WHEN):

        @task
        async def body(name: str) -> None:
            await anyio.sleep(0.01)  # both tries are in flight at once
            seen[name] = await Variable.aget("who")

        ops = [body.override(task_id=name)(name) for name in ("first", "second")]

    async with anyio.create_task_group() as tg:
        for op, store in zip(ops, (first.for_task("a"), second.for_task("b")), strict=True):
            tg.start_soon(
                lambda op=op, store=store: arun_task(
                    op.operator, dag=op.operator.dag, run=RUN, try_number=1, client=store, log=LOG
                )
            )
    assert seen == {"first": "first", "second": "second"}
