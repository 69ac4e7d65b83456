"""`BaseHook`: the base of hooks, as ``airflow.sdk.bases.hook.BaseHook`` / ``airflow.sdk.BaseHook``.

A hook wraps a client of an external system and builds it from a connection:

    class WarehouseHook(BaseHook):
        def __init__(self, conn_id: str = "warehouse") -> None:
            super().__init__()
            self.conn_id = conn_id

        def get_conn(self) -> Engine:
            return create_engine(self.get_connection(self.conn_id).get_uri())

`get_connection` reads through the running task's execution API, like `Connection.get`.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_sc.sdk.connection import Connection

__all__ = ["BaseHook"]


class BaseHook:
    """Connection lookup and a logger for hooks; subclasses implement `get_conn`."""

    def __init__(self, logger_name: str | None = None) -> None:
        self._log_config_logger_name = "airflow.task.hooks"
        self._logger_name = logger_name

    @property
    def log(self) -> logging.Logger:
        cls = type(self)
        name = self._logger_name or f"{cls.__module__}.{cls.__name__}"
        return logging.getLogger(f"{self._log_config_logger_name}.{name}")

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection `conn_id` (`ConnectionNotFound`, a `KeyError`, when absent)."""
        return Connection.get(conn_id)

    @classmethod
    async def aget_connection(cls, conn_id: str) -> Connection:
        """`get_connection` for ``async def`` tasks and triggers."""
        return await Connection.aget(conn_id)

    def get_conn(self) -> Any:
        """The client of the external system (each hook implements it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_conn()")
