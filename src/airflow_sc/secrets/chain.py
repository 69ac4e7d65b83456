"""The configured chain of backends: the first one that knows a secret answers.

Default order: environment variables, local files, the metastore, then remote backends
(each named by class path + keyword arguments, e.g. the AWS backends in
`airflow_sc.secrets.aws`). Every connection, sensitive variable and config secret that
passes through the chain is registered with the masker, so it is masked wherever it is
printed afterwards.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import anyio

from airflow_sc.config.settings import SecretsSectionSettings
from airflow_sc.db import Database
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.cache import SecretsCache
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.encryption import SecretsCipher
from airflow_sc.secrets.environment import EnvironmentBackend
from airflow_sc.secrets.errors import SecretsBackendError, SecretsError
from airflow_sc.secrets.local_file import LocalFileBackend
from airflow_sc.secrets.masking import DEFAULT_SENSITIVE_KEYS, SecretsMasker
from airflow_sc.secrets.metastore import MetastoreBackend

__all__ = [
    "DEFAULT_ORDER",
    "BackendSpec",
    "SecretsChain",
    "SecretsSettings",
    "build_chain",
    "build_secrets",
    "load_backend",
    "open_secrets",
]

Source = Literal["environment", "local_file", "metastore", "remote"]
DEFAULT_ORDER: Final[tuple[Source, ...]] = ("environment", "local_file", "metastore", "remote")

#: Seconds closing the backends may take.
CLOSE_GRACE: Final = 5.0


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A remote backend: `module.path.ClassName` and the keyword arguments to build it."""

    class_path: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SecretsSettings:
    """How the chain is assembled (the `[secrets]` settings section)."""

    order: tuple[Source, ...] = DEFAULT_ORDER
    variables_file: Path | None = None
    connections_file: Path | None = None
    backends: tuple[BackendSpec, ...] = ()
    cache_ttl: float = 60.0
    negative_cache_ttl: float = 10.0
    max_negative_entries: int = 1024
    sensitive_keys: frozenset[str] = DEFAULT_SENSITIVE_KEYS
    min_mask_length: int = 5

    @classmethod
    def from_section(cls, section: SecretsSectionSettings) -> SecretsSettings:
        """The chain's settings from the validated `[secrets]` settings section."""
        order = tuple(part.strip() for part in section.order.split(",") if part.strip())
        backends: tuple[BackendSpec, ...] = ()
        if section.backend:
            kwargs = json.loads(section.backend_kwargs)
            backends = (BackendSpec(section.backend.strip(), kwargs),)
        extra_keys = {
            name.strip().lower()
            for name in section.sensitive_var_conn_names.split(",")
            if name.strip()
        }
        return cls(
            order=order,  # type: ignore[arg-type]  # checked by the section
            variables_file=section.variables_file,
            connections_file=section.connections_file,
            backends=backends,
            cache_ttl=section.cache_ttl,
            negative_cache_ttl=section.negative_cache_ttl,
            max_negative_entries=section.max_negative_entries,
            sensitive_keys=DEFAULT_SENSITIVE_KEYS | extra_keys,
            min_mask_length=section.min_mask_length,
        )

    def masker(self) -> SecretsMasker:
        """A masker with these sensitive key names and minimum length."""
        return SecretsMasker(sensitive_keys=self.sensitive_keys, min_length=self.min_mask_length)


class SecretsChain(SecretsBackend):
    """Asks each backend in turn; registers what it returns with the masker."""

    name = "chain"

    def __init__(
        self, backends: Sequence[SecretsBackend], *, masker: SecretsMasker | None = None
    ) -> None:
        self.backends = tuple(backends)
        self.masker = masker

    async def get_connection(self, conn_id: str) -> Connection | None:
        for backend in self.backends:
            try:
                conn = await backend.get_connection(conn_id)
            except Exception as exc:
                raise _failed(backend, f"connection {conn_id!r}", exc) from exc
            if conn is not None:
                if self.masker is not None:
                    self.masker.add_connection(conn)
                return conn
        return None

    async def get_variable(self, key: str) -> str | None:
        for backend in self.backends:
            try:
                value = await backend.get_variable(key)
            except Exception as exc:
                raise _failed(backend, f"variable {key!r}", exc) from exc
            if value is not None:
                if self.masker is not None:
                    self.masker.add_variable(key, value)
                return value
        return None

    async def get_config(self, key: str) -> str | None:
        for backend in self.backends:
            try:
                value = await backend.get_config(key)
            except Exception as exc:
                raise _failed(backend, f"config {key!r}", exc) from exc
            if value is not None:
                if self.masker is not None:
                    self.masker.add_secret(value)  # a config value kept as a secret is one
                return value
        return None

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            for backend in reversed(self.backends):
                await backend.aclose()


def _failed(backend: SecretsBackend, what: str, exc: Exception) -> SecretsError:
    if isinstance(exc, SecretsError):
        return exc
    return SecretsBackendError(f"secrets backend {backend.name!r} failed to look up {what}: {exc}")


def load_backend(spec: BackendSpec) -> SecretsBackend:
    """Import `spec.class_path` and build it with `spec.kwargs` (no I/O happens here)."""
    module_name, _, class_name = spec.class_path.rpartition(".")
    if not module_name:
        raise ValueError(f"secrets backend {spec.class_path!r}: expected 'module.ClassName'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"secrets backend {spec.class_path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, SecretsBackend)):
        raise ValueError(f"secrets backend {spec.class_path!r} is not a SecretsBackend subclass")
    return cls(**spec.kwargs)


def build_chain(
    settings: SecretsSettings,
    *,
    environ: Mapping[str, str],
    database: Database | None = None,
    cipher: SecretsCipher | None = None,
    masker: SecretsMasker | None = None,
) -> SecretsChain:
    """Assemble the chain in `settings.order`.

    `environ` is read once, now. The metastore needs `database` and `cipher`; leave
    `metastore` out of `order` where there is no database (task workers).
    """
    backends: list[SecretsBackend] = []
    for source in settings.order:
        if source == "environment":
            backends.append(EnvironmentBackend(environ))
        elif source == "local_file":
            if settings.variables_file or settings.connections_file:
                backends.append(
                    LocalFileBackend(
                        variables_file=settings.variables_file,
                        connections_file=settings.connections_file,
                    )
                )
        elif source == "metastore":
            if database is None or cipher is None:
                raise ValueError(
                    "the secrets chain includes the metastore but no database/cipher was "
                    "given (remove 'metastore' from the order where there is no database)"
                )
            backends.append(MetastoreBackend(database, cipher))
        else:
            backends.extend(load_backend(spec) for spec in settings.backends)
    return SecretsChain(backends, masker=masker)


def build_secrets(
    settings: SecretsSettings,
    *,
    environ: Mapping[str, str],
    database: Database | None = None,
    cipher: SecretsCipher | None = None,
    masker: SecretsMasker | None = None,
) -> SecretsCache:
    """The chain behind its TTL cache (close it with `aclose`, or use `open_secrets`)."""
    chain = build_chain(settings, environ=environ, database=database, cipher=cipher, masker=masker)
    return SecretsCache(
        chain,
        ttl=settings.cache_ttl,
        negative_ttl=settings.negative_cache_ttl,
        max_negative=settings.max_negative_entries,
    )


@asynccontextmanager
async def open_secrets(
    settings: SecretsSettings,
    *,
    environ: Mapping[str, str],
    database: Database | None = None,
    cipher: SecretsCipher | None = None,
    masker: SecretsMasker | None = None,
) -> AsyncIterator[SecretsCache]:
    """The cached chain, its backends closed on exit (shielded, bounded)."""
    cache = build_secrets(
        settings, environ=environ, database=database, cipher=cipher, masker=masker
    )
    try:
        yield cache
    finally:
        with anyio.move_on_after(CLOSE_GRACE, shield=True):
            await cache.aclose()
