"""The execution API as the main app mounts it, built from the API's context."""

from __future__ import annotations

from starlette.applications import Starlette

from airflow_sc.api.context import ApiContext
from airflow_sc.api.execution.handlers import ExecutionHandlers
from airflow_sc.api.execution.routes import ExecutionApi, create_execution_app
from airflow_sc.api.execution.tokens import ExecutionTokens

__all__ = ["execution_app_for", "execution_tokens_for"]


def execution_tokens_for(ctx: ApiContext) -> ExecutionTokens:
    """Try tokens signed with the deployment's API signing key (their own audience).

    Executors issue tokens with the same object, so build both from one prepared context.
    """
    lifetime = ctx.settings.executor.task_token_lifetime
    return ExecutionTokens(ctx.require_signing_key(), lifetime=lifetime)


def execution_app_for(ctx: ApiContext) -> Starlette:
    """The ``/execution`` sub-application: prepared `ctx` (keys, secrets) required."""
    handlers = ExecutionHandlers(
        db=ctx.db,
        secrets=ctx.require_secrets(),
        on_ti_finished=ctx.wake,
        clock=ctx.clock,
        cipher=ctx.require_cipher(),
    )
    return create_execution_app(ExecutionApi(handlers, execution_tokens_for(ctx)))
