"""`InMemoryTaskClient`: a `TaskClient` over plain dicts (``dags test`` and tests).

Clients made with `for_task` share one XCom store, so what one task instance pushes the
next one pulls, as through the execution API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_sc.secrets.connection import Connection

__all__ = ["InMemoryTaskClient", "XComKey"]

#: (dag_id, run_id, task_id, map_index, key)
XComKey = tuple[str, str, str, int, str]


@dataclass(frozen=True, slots=True)
class InMemoryTaskClient:
    """XComs per (run, task, map_index, key); variables and connections from mappings.

    A connection value may be a `Connection` or its URI / JSON text (parsed when asked for,
    so a malformed one fails only the task that uses it).
    """

    dag_id: str
    run_id: str
    task_id: str | None = None
    map_index: int = -1
    variables: Mapping[str, str] = field(default_factory=dict)
    connections: Mapping[str, Connection | str] = field(default_factory=dict)
    xcoms: dict[XComKey, Any] = field(default_factory=dict)

    def for_task(self, task_id: str, map_index: int = -1) -> InMemoryTaskClient:
        """The client of one task instance of this run (same XCom store)."""
        return replace(self, task_id=task_id, map_index=map_index)

    def xcom_pull(self, task_id: str, key: str, map_index: int = -1) -> Any:
        return self.xcoms.get((self.dag_id, self.run_id, task_id, map_index, key))

    def xcom_push(self, key: str, value: Any) -> None:
        if self.task_id is None:
            raise RuntimeError("this client belongs to no task instance; use for_task()")
        self.xcoms[(self.dag_id, self.run_id, self.task_id, self.map_index, key)] = value

    def get_variable(self, key: str) -> str | None:
        return self.variables.get(key)

    def get_connection(self, conn_id: str) -> Connection | None:
        value = self.connections.get(conn_id)
        if isinstance(value, str):
            return Connection.deserialize(conn_id, value)
        return value
