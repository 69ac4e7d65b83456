"""An in-memory backend: a public test double, and a way to inject secrets in code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection

__all__ = ["InMemoryBackend"]


class InMemoryBackend(SecretsBackend):
    """Answers from dicts; `calls` counts lookups per (kind, key)."""

    name = "memory"

    def __init__(
        self,
        *,
        connections: Mapping[str, Connection] | None = None,
        variables: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
    ) -> None:
        self.connections = dict(connections or {})
        self.variables = dict(variables or {})
        self.config = dict(config or {})
        self.calls: Counter[tuple[str, str]] = Counter()

    async def get_connection(self, conn_id: str) -> Connection | None:
        self.calls["connection", conn_id] += 1
        return self.connections.get(conn_id)

    async def get_variable(self, key: str) -> str | None:
        self.calls["variable", key] += 1
        return self.variables.get(key)

    async def get_config(self, key: str) -> str | None:
        self.calls["config", key] += 1
        return self.config.get(key)
