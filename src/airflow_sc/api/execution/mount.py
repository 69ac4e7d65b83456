"""The execution API as the main app mounts it, built from the API's context."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from airflow_sc.api.context import ApiContext
from airflow_sc.api.execution.handlers import ExecutionHandlers
from airflow_sc.api.execution.routes import ExecutionApi, create_execution_app
from airflow_sc.api.execution.tokens import ExecutionTokens
from airflow_sc.secrets.chain import SecretsSettings, build_chain

__all__ = ["execution_app_for", "execution_tokens_for"]


def execution_tokens_for(ctx: ApiContext) -> ExecutionTokens:
    """Try tokens signed with the deployment's API signing key (their own audience).

    Executors issue tokens with the same object, so build both from one prepared context.
    """
    lifetime = ctx.settings.executor.task_token_lifetime
    return ExecutionTokens(ctx.require_signing_key(), lifetime=lifetime)


def execution_app_for(ctx: ApiContext) -> Starlette:
    """The ``/execution`` sub-application: prepared `ctx` (signing key, cipher) required."""
    secrets = build_chain(
        SecretsSettings(),
        environ=os.environ,
        database=ctx.db,
        cipher=ctx.require_cipher(),
        masker=ctx.masker,
    )
    handlers = ExecutionHandlers(
        db=ctx.db, secrets=secrets, on_ti_finished=ctx.wake, clock=ctx.clock
    )
    return create_execution_app(ExecutionApi(handlers, execution_tokens_for(ctx)))
