"""`TaskClient`: how a running task reaches the outside world (XCom, variables, connections).

One client serves one task instance, like the execution API token a worker gets: pushes
land on that task instance, and pulls read the same DAG run. The production client talks to
the execution API over HTTP; `InMemoryTaskClient` (in `memory_client`) serves
``airflow-sc dags test`` and tests; the in-process executor's client reads through the
execution API's handlers without the HTTP hop.

The methods are sync because task code (``ti.xcom_pull`` in a callable, a template's
``var.value.x``, ``Variable.get``) is sync, even inside ``async def`` tasks. A client that
can do better for ``async def`` tasks also implements `AsyncSecretsClient`;
``await Variable.aget(...)`` uses it when present and otherwise runs the sync method in a
worker thread, so the event loop never waits on the network.

Operation names (what a generic forwarder has to carry): ``xcom_pull``, ``xcom_push``,
``get_variable``, ``set_variable``, ``delete_variable``, ``get_connection``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["AsyncSecretsClient", "TaskClient"]


class TaskClient(Protocol):
    """The outside world as one task instance of one DAG run sees it."""

    def xcom_pull(self, task_id: str, key: str, map_index: int = -1) -> Any:
        """The value `task_id` pushed under `key` in this run, ``None`` when there is none."""
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
