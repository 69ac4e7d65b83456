"""`ApiContext`: what the routes need, built once by the composition root."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import anyio
from fastapi import Depends, Request

from airflow_sc.actions import Wake, no_wake
from airflow_sc.auth import UserStamps, load_or_create_signing_key
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.runtime import Shutdown
from airflow_sc.secrets import (
    SecretsBackend,
    SecretsCache,
    SecretsCipher,
    SecretsMasker,
    SecretsSettings,
    build_secrets,
    load_or_create_fernet_key,
)

__all__ = ["ApiContext", "Ctx", "api_context", "prepare_context", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes need, built once by the composition root.

    `signing_key` (API tokens) and `cipher` (stored connections and variables) may be left
    None: `prepare_context` (which `serve_api` calls) fills them from the settings or from
    the key files under `core.home`, creating those on first start.
    """

    settings: Settings
    db: Database
    shutdown: Shutdown = field(default_factory=Shutdown)
    clock: Callable[[], datetime] = utcnow
    signing_key: str | None = None
    cipher: SecretsCipher | None = None
    masker: SecretsMasker = field(default_factory=SecretsMasker)
    #: Tells the scheduler that an action changed dag runs (`SchedulerHandle.wake` when one
    #: runs in this process; the database notification covers the others).
    wake: Wake = no_wake
    #: The cached secrets chain of this process, as `[secrets]` configures it (one cache:
    #: the execution API and the in-process executor see each other's writes at once).
    secrets: SecretsBackend | None = None
    #: Users' current credential stamps, against which every token is rechecked.
    user_stamps: UserStamps = field(default_factory=UserStamps)

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.api.access_token_expiry)

    def require_signing_key(self) -> str:
        if self.signing_key is None:
            raise RuntimeError("ApiContext.signing_key is unset: build it with prepare_context")
        return self.signing_key

    def require_cipher(self) -> SecretsCipher:
        if self.cipher is None:
            raise RuntimeError("ApiContext.cipher is unset: build it with prepare_context")
        return self.cipher

    def require_secrets(self) -> SecretsBackend:
        if self.secrets is None:
            raise RuntimeError("ApiContext.secrets is unset: build it with prepare_context")
        return self.secrets

    def forget_secrets(self, kind: Literal["connection", "variable"], keys: Iterable[str]) -> None:
        """Drop cached answers after a write, so tasks of this process read the new value."""
        if isinstance(self.secrets, SecretsCache):
            for key in keys:
                self.secrets.invalidate(kind, key)


async def prepare_context(ctx: ApiContext) -> ApiContext:
    """`ctx` with its signing key and cipher filled in (reads/creates key files once)."""
    home = ctx.settings.core.home
    signing_key = ctx.signing_key
    if signing_key is None:
        signing_key = await anyio.to_thread.run_sync(
            load_or_create_signing_key, home, ctx.settings.api.secret_key
        )
    cipher = ctx.cipher
    if cipher is None:
        fernet_key = await anyio.to_thread.run_sync(
            load_or_create_fernet_key, home, ctx.settings.core.fernet_key
        )
        cipher = SecretsCipher(fernet_key)
    secrets = ctx.secrets
    if secrets is None:
        secrets_settings = SecretsSettings.from_section(ctx.settings.secrets)
        ctx.masker.add_sensitive_keys(secrets_settings.sensitive_keys)
        secrets = build_secrets(
            secrets_settings,
            environ=os.environ,
            database=ctx.db,
            cipher=cipher,
            masker=ctx.masker,
        )
    return dataclasses.replace(ctx, signing_key=signing_key, cipher=cipher, secrets=secrets)


async def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


#: Route parameter type: `ctx: Ctx` gives the route the `ApiContext`.
Ctx = Annotated[ApiContext, Depends(api_context)]
