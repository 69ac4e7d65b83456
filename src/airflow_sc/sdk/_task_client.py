"""`TaskClient`: how a running task reaches the outside world (XCom, variables,
connections), and the client of the try running in this context.

One client serves one task instance, like the execution token a worker gets: pushes land
on that task instance, and pulls read the same DAG run. The task runner provides the
clients: over the execution protocol's transports in a worker process
(`airflow_sc.task_runner`), `InMemoryTaskClient` for ``airflow-sc dags test`` and tests, and
the in-process executor's client, which reads through the execution service directly. The
SDK defines the port; nothing here imports the task runner.

The methods are sync because task code (``ti.xcom_pull`` in a callable, a template's
``var.value.x``, ``Variable.get``) is sync, even inside ``async def`` tasks. A client that
can do better for ``async def`` tasks also implements `AsyncSecretsClient`;
``await Variable.aget(...)`` uses it when present and otherwise runs the sync method in a
worker thread, so the event loop never waits on the network.

Operation names (what a generic forwarder has to carry): ``xcom_pull``, ``xcom_push``,
``get_variable``, ``set_variable``, ``delete_variable``, ``get_connection``.

The task runner makes a try's client current for the duration of the try
(`task_client_active`); ``Variable.get`` / ``Connection.get`` / ``BaseHook.get_connection``
go through it, like ``ti.xcom_pull``. A context variable rather than a process global, so
the thousands of tries the in-process executor runs concurrently each see their own (and
`anyio.to_thread.run_sync` carries it into the worker thread of a sync ``execute``).

Outside a try (a DAG file's top-level code, a script) there is no execution API to ask:
lookups read the environment (``AIRFLOW_SC_VAR_<KEY>`` / ``AIRFLOW_VAR_<KEY>``,
``AIRFLOW_SC_CONN_<ID>`` / ``AIRFLOW_CONN_<ID>``), as Airflow 3 reads only its worker-side
backends there, and writes are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from airflow_sc.secrets.connection import Connection

__all__ = [
    "AsyncSecretsClient",
    "TaskClient",
    "adelete_variable",
    "aget_connection",
    "aget_variable",
    "aset_variable",
    "current_task_client",
    "delete_variable",
    "get_connection",
    "get_variable",
    "set_variable",
    "task_client_active",
]


class TaskClient(Protocol):
    """The outside world as one task instance of one DAG run sees it."""

    def xcom_pull(
        self,
        task_id: str,
        key: str,
        map_index: int = -1,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        include_prior_dates: bool = False,
    ) -> Any:
        """The value `task_id` pushed under `key` in this run, ``None`` when there is none.

        `dag_id` / `run_id` read another DAG's or run's value (the task runner passes them
        only when a task asks); `include_prior_dates` also reads that DAG's earlier runs
        (by logical date), the newest value winning.
        """
        ...

    def xcom_push(self, key: str, value: Any) -> None:
        """Store `value` under `key` for this task instance (replacing an earlier value)."""
        ...

    def get_variable(self, key: str) -> str | None:
        """The variable's stored text, ``None`` when it does not exist."""
        ...

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        """Create or replace the variable in the metastore (its value is text)."""
        ...

    def delete_variable(self, key: str) -> bool:
        """Delete the variable from the metastore; ``False`` when it did not exist there."""
        ...

    def get_connection(self, conn_id: str) -> Any | None:
        """The connection (a `airflow_sc.secrets.Connection`), ``None`` when it does not exist."""
        ...


@runtime_checkable
class AsyncSecretsClient(Protocol):
    """Awaitable variants of the secrets operations, for ``async def`` tasks."""

    async def aget_variable(self, key: str) -> str | None: ...

    async def aset_variable(self, key: str, value: str, description: str | None = None) -> None: ...

    async def adelete_variable(self, key: str) -> bool: ...

    async def aget_connection(self, conn_id: str) -> Any | None: ...


_client: ContextVar[TaskClient | None] = ContextVar("airflow_sc_task_client", default=None)


def current_task_client() -> TaskClient | None:
    """The running try's client, ``None`` outside a try."""
    return _client.get()


@contextmanager
def task_client_active(client: TaskClient) -> Iterator[None]:
    """Make `client` the current try's client inside the block."""
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)


def _outside_task(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} needs a running task: it writes through the execution API, which only a "
        "task's try can reach (outside a task, use `airflow-sc variables set|delete`)"
    )


# -- outside a try: the environment ------------------------------------------------------


def _environment_variable(key: str) -> str | None:
    from airflow_sc.secrets.environment import VARIABLE_PREFIXES

    for prefix in VARIABLE_PREFIXES:
        value = os.environ.get(prefix + key.upper())
        if value is not None:
            return value
    return None


def _environment_connection(conn_id: str) -> Connection | None:
    from airflow_sc.secrets.connection import Connection
    from airflow_sc.secrets.environment import CONNECTION_PREFIXES

    for prefix in CONNECTION_PREFIXES:
        value = os.environ.get(prefix + conn_id.upper())
        if value is not None:
            return Connection.deserialize(conn_id, value)
    return None


# -- sync: task code, templates ------------------------------------------------------------


def get_variable(key: str) -> str | None:
    client = _client.get()
    return _environment_variable(key) if client is None else client.get_variable(key)


def set_variable(key: str, value: str, description: str | None = None) -> None:
    client = _client.get()
    if client is None:
        raise _outside_task("Variable.set")
    client.set_variable(key, value, description)


def delete_variable(key: str) -> bool:
    client = _client.get()
    if client is None:
        raise _outside_task("Variable.delete")
    return client.delete_variable(key)


def get_connection(conn_id: str) -> Connection | None:
    client = _client.get()
    if client is None:
        return _environment_connection(conn_id)
    found: Connection | None = client.get_connection(conn_id)
    return found


# -- async: `async def` tasks --------------------------------------------------------------
#
# A client with awaitable variants (the in-process executor's) is awaited; a sync client
# (HTTP in a worker process) is called in a worker thread, so the loop never waits on it.


async def _call(client: Any, name: str, *args: Any) -> Any:
    native = getattr(client, f"a{name}", None)
    if native is not None:
        return await native(*args)
    import anyio

    return await anyio.to_thread.run_sync(getattr(client, name), *args)


async def aget_variable(key: str) -> str | None:
    client = _client.get()
    if client is None:
        return _environment_variable(key)
    found: str | None = await _call(client, "get_variable", key)
    return found


async def aset_variable(key: str, value: str, description: str | None = None) -> None:
    client = _client.get()
    if client is None:
        raise _outside_task("Variable.aset")
    await _call(client, "set_variable", key, value, description)


async def adelete_variable(key: str) -> bool:
    client = _client.get()
    if client is None:
        raise _outside_task("Variable.adelete")
    deleted: bool = await _call(client, "delete_variable", key)
    return deleted


async def aget_connection(conn_id: str) -> Connection | None:
    client = _client.get()
    if client is None:
        return _environment_connection(conn_id)
    found: Connection | None = await _call(client, "get_connection", conn_id)
    return found
