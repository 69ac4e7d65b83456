"""The async secrets port: where connections, variables and secret config values come from.

A backend answers `None` for "not here" (the chain then asks the next one) and raises for
"could not answer" (`SecretsBackendError`, or a `SecretsError` subclass with the reason).
Backends never block the event loop: disk and network work runs in a worker thread or on
non-blocking sockets. Callers own timeouts (`anyio.fail_after` around a lookup).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from airflow_sc.secrets.connection import Connection

__all__ = ["SecretsBackend"]


class SecretsBackend(ABC):
    """One source of secrets. Subclasses implement the lookups they support."""

    #: Short name shown in errors and statistics (`environment`, `metastore`, ...).
    name: str = "backend"

    @abstractmethod
    async def get_connection(self, conn_id: str) -> Connection | None:
        """The connection `conn_id`, or None when this backend does not hold it."""

    @abstractmethod
    async def get_variable(self, key: str) -> str | None:
        """The variable's value as text, or None when this backend does not hold it."""

    async def get_config(self, key: str) -> str | None:
        """A configuration value kept as a secret (`<section>/<key>`), or None."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release clients and threads; idempotent. Backends without resources do nothing."""
