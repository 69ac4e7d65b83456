"""The execution API as the main app mounts it, from the API's context."""

from __future__ import annotations

from starlette.applications import Starlette

from airflow_sc.api.context import ApiContext
from airflow_sc.api.execution.routes import create_execution_app

__all__ = ["execution_app_for"]


def execution_app_for(ctx: ApiContext) -> Starlette:
    """The ``/execution`` sub-application: a prepared `ctx` (its execution dispatcher)."""
    return create_execution_app(
        ctx.require_execution(), max_body_size=ctx.settings.api.max_request_body_size
    )
