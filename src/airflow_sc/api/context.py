"""`ApiContext`: what the routes need, built once by the composition root."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
from fastapi import Depends, Request

from airflow_sc.actions import Wake, no_wake
from airflow_sc.auth import load_or_create_signing_key
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.runtime import Shutdown
from airflow_sc.secrets import SecretsCipher, SecretsMasker, load_or_create_fernet_key

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
    return dataclasses.replace(ctx, signing_key=signing_key, cipher=cipher)


async def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


#: Route parameter type: `ctx: Ctx` gives the route the `ApiContext`.
Ctx = Annotated[ApiContext, Depends(api_context)]
