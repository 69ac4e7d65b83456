"""`ApiContext`: what the routes need, built once by the composition root."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request

from airflow_sc.actions import OperatorTriggers, Wake, no_wake
from airflow_sc.api.health import LastHeartbeats
from airflow_sc.api.list_cache import ListCache
from airflow_sc.auth import UserStamps, VerifiedTokens
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.service import ExecutionService
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.runtime import Shutdown
from airflow_sc.secrets import SecretsBackend, SecretsCache, SecretsCipher, SecretsMasker
from airflow_sc.services import Services, load_services, utcnow

__all__ = ["ApiContext", "Ctx", "api_context", "prepare_context", "utcnow"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes need, built once by the composition root (`from_services`).

    `signing_key` (API tokens), `cipher` (stored connections and variables), `secrets` and
    `execution` may be left None: `prepare_context` (which `serve_api` calls) fills them
    from the settings or from the key files under `core.home`, creating those on first
    start (an API server in a test, or embedded without a composition root).
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
    #: Tokens verified once, remembered until they expire (their stamps are rechecked).
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    #: The execution protocol served under ``/execution`` (the process's one execution
    #: service, shared with the executors of this process).
    execution: ExecutionDispatcher | None = None
    #: What the health route last read, reported (as unhealthy) while the database is out.
    last_heartbeats: LastHeartbeats = field(default_factory=LastHeartbeats)
    #: Answers of the busiest list routes (`api.list_cache`), when the composition root
    #: keeps it current: it subscribes the cache to a change feed that hears every change.
    list_cache: ListCache | None = None

    @classmethod
    def from_services(
        cls,
        settings: Settings,
        db: Database,
        services: Services,
        *,
        execution: ExecutionDispatcher,
        shutdown: Shutdown,
        wake: Wake = no_wake,
        list_cache: ListCache | None = None,
    ) -> ApiContext:
        """The context of a process whose composition root built `services` once."""
        return cls(
            settings=settings,
            db=db,
            shutdown=shutdown,
            clock=services.clock,
            signing_key=services.signing_key,
            cipher=services.cipher,
            masker=services.masker,
            wake=wake,
            secrets=services.secrets,
            execution=execution,
            list_cache=list_cache,
        )

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

    def require_execution(self) -> ExecutionDispatcher:
        if self.execution is None:
            raise RuntimeError("ApiContext.execution is unset: build it with prepare_context")
        return self.execution

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
    """`ctx` with what it lacks built (`load_services`): keys, cipher, secrets, execution.

    What `ctx` already holds is kept.
    """
    missing = (ctx.signing_key, ctx.cipher, ctx.secrets, ctx.execution)
    if all(part is not None for part in missing):
        return ctx
    loaded = await load_services(ctx.settings, ctx.db, clock=ctx.clock, masker=ctx.masker)
    signing_key = ctx.signing_key or loaded.signing_key
    cipher = ctx.cipher or loaded.cipher
    secrets = ctx.secrets or loaded.secrets
    execution = ctx.execution
    if execution is None:
        service = ExecutionService(
            ctx.db,
            secrets=secrets,
            cipher=cipher,
            clock=ctx.clock,
            on_ti_finished=ctx.wake,
            dag_runs=OperatorTriggers(
                ctx.db,
                wake=ctx.wake,
                allowed_run_id_pattern=ctx.settings.scheduler.allowed_run_id_pattern,
            ),
        )
        tokens = loaded.tokens
        if signing_key != loaded.signing_key:
            tokens = ExecutionTokens(
                signing_key,
                lifetime=ctx.settings.executor.task_token_lifetime,
                clock=loaded.tokens.clock,
            )
        execution = ExecutionDispatcher(
            service, tokens, max_json_depth=ctx.settings.api.max_request_json_depth
        )
    return dataclasses.replace(
        ctx, signing_key=signing_key, cipher=cipher, secrets=secrets, execution=execution
    )


async def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


#: Route parameter type: `ctx: Ctx` gives the route the `ApiContext`.
Ctx = Annotated[ApiContext, Depends(api_context)]
