"""Secrets from environment variables: `AIRFLOW_SC_CONN_<ID>`, `AIRFLOW_SC_VAR_<KEY>`.

Airflow's `AIRFLOW_CONN_<ID>` / `AIRFLOW_VAR_<KEY>` are read too, so an existing
deployment's environment carries over; the `AIRFLOW_SC_` spelling wins when both are set.
The id is upper-cased to find the variable (as Airflow does). A connection value is a URI
or, when it starts with `{`, Airflow's JSON form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection

__all__ = ["CONNECTION_PREFIXES", "VARIABLE_PREFIXES", "EnvironmentBackend"]

CONNECTION_PREFIXES: Final = ("AIRFLOW_SC_CONN_", "AIRFLOW_CONN_")
VARIABLE_PREFIXES: Final = ("AIRFLOW_SC_VAR_", "AIRFLOW_VAR_")


class EnvironmentBackend(SecretsBackend):
    """Reads the given environment once, at construction (pass `os.environ` at start-up)."""

    name = "environment"

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        connection_prefixes: tuple[str, ...] = CONNECTION_PREFIXES,
        variable_prefixes: tuple[str, ...] = VARIABLE_PREFIXES,
    ) -> None:
        self._connections = _with_prefixes(environ, connection_prefixes)
        self._variables = _with_prefixes(environ, variable_prefixes)

    async def get_connection(self, conn_id: str) -> Connection | None:
        value = self._connections.get(conn_id.upper())
        return None if value is None else Connection.deserialize(conn_id, value)

    async def get_variable(self, key: str) -> str | None:
        return self._variables.get(key.upper())


def _with_prefixes(environ: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """Name (after the prefix) -> value; earlier prefixes win."""
    found: dict[str, str] = {}
    for prefix in reversed(prefixes):
        for name, value in environ.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                found[name[len(prefix) :]] = value
    return found
