"""`TaskClient`: how a running task reaches the outside world (XCom, variables, connections).

One client serves one task instance, like the execution API token a worker gets: pushes
land on that task instance, and pulls read the same DAG run. The production client talks to
the execution API over HTTP; `InMemoryTaskClient` (in `memory_client`) serves
``airflow-sc dags test`` and tests.

The methods are sync because task code (``ti.xcom_pull`` in a callable, a template's
``var.value.x``) is sync, even inside ``async def`` tasks.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["TaskClient"]


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

    def get_connection(self, conn_id: str) -> Any | None:
        """The connection (a `airflow_sc.secrets.Connection`), ``None`` when it does not exist."""
        ...
