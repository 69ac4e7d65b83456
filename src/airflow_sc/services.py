"""`Services`: what every component of one process shares, built once at start-up.

The composition root (`airflow_sc.cli`) calls `load_services` once per process, after the
database is open, and passes the result down to the components that need a part of it:
the API (signing key, cipher, secrets, masker, clock), the execution service (secrets,
cipher, clock) and the executors (execution tokens). A test that builds its services with
a fake clock reaches every one of them with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from airflow_sc.auth import load_or_create_signing_key
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.secrets import (
    SecretsBackend,
    SecretsCipher,
    SecretsMasker,
    SecretsSettings,
    build_secrets,
    load_or_create_fernet_key,
)

__all__ = ["Services", "load_services", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    """The process's keys, secrets and clock (see the module docstring)."""

    #: Signs the API's user tokens and the execution tokens of tries.
    signing_key: str = field(repr=False)
    #: Encrypts stored connections and variables (Fernet).
    cipher: SecretsCipher = field(repr=False)
    #: The cached secrets chain as ``[secrets]`` configures it (one cache per process: the
    #: API and the tasks of this process see each other's writes at once).
    secrets: SecretsBackend
    #: Masks the secrets that pass through, in logs and API answers.
    masker: SecretsMasker
    clock: Callable[[], datetime]
    #: Execution tokens, scoped to one try each: issued by executors, checked by the
    #: execution protocol's transports.
    tokens: ExecutionTokens


async def load_services(
    settings: Settings,
    db: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    masker: SecretsMasker | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Services:
    """Read (or create, on first start) the key files under ``core.home`` and build the
    secrets chain, once."""
    home = settings.core.home
    signing_key = await anyio.to_thread.run_sync(
        load_or_create_signing_key, home, settings.api.secret_key
    )
    fernet_key = await anyio.to_thread.run_sync(
        load_or_create_fernet_key, home, settings.core.fernet_key
    )
    cipher = SecretsCipher(fernet_key)
    masker = masker if masker is not None else SecretsMasker()
    secrets_settings = SecretsSettings.from_section(settings.secrets)
    masker.add_sensitive_keys(secrets_settings.sensitive_keys)
    secrets = build_secrets(
        secrets_settings, environ=environ, database=db, cipher=cipher, masker=masker
    )
    tokens = ExecutionTokens(
        signing_key,
        lifetime=settings.executor.task_token_lifetime,
        clock=lambda: clock().timestamp(),
    )
    return Services(signing_key, cipher, secrets, masker, clock, tokens)
