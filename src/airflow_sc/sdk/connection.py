"""`Connection`: connections from task code, as ``from airflow.sdk import Connection``.

    from airflow_sc.sdk import Connection

    conn = Connection.get("warehouse")           # KeyError (ConnectionNotFound) if absent
    engine = create_engine(conn.get_uri())
    conn = await Connection.aget("warehouse")    # in an async def task

Inside a task the lookup goes through the execution API to the secrets chain, and the
connection's password and sensitive extras are masked in the task's log from then on.
Outside a task only ``AIRFLOW_SC_CONN_<ID>`` / ``AIRFLOW_CONN_<ID>`` environment variables
are read (see `airflow_sc.sdk._task_client`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from airflow_sc.secrets.connection import Connection as _StoredConnection

from . import _task_client
from .context import ConnectionNotFound

__all__ = ["Connection"]


@dataclass(frozen=True, slots=True)
class Connection(_StoredConnection):
    """Where and how to reach an external system (Airflow's fields, URI and JSON forms)."""

    @classmethod
    def _of(cls, conn_id: str, found: _StoredConnection | None) -> Connection:
        if found is None:
            raise ConnectionNotFound(conn_id)
        if isinstance(found, cls):
            return found
        return cls(**{f.name: getattr(found, f.name) for f in fields(_StoredConnection)})

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        """The connection `conn_id`; `ConnectionNotFound` (a `KeyError`) when none has it."""
        return cls._of(conn_id, _task_client.get_connection(conn_id))

    @classmethod
    async def aget(cls, conn_id: str) -> Connection:
        """`get` for ``async def`` tasks: never blocks the event loop."""
        return cls._of(conn_id, await _task_client.aget_connection(conn_id))

    #: Airflow's name for `aget`.
    async_get = aget

    def get_hook(self, **kwargs: Any) -> Any:
        """Hooks are provided by Airflow's provider packages, which airflow-sc does not ship."""
        raise NotImplementedError(
            f"connection {self.conn_id!r}: airflow-sc has no hook registry; build the "
            "client from the connection's fields or get_uri()"
        )
