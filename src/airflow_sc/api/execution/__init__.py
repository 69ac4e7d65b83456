"""The execution API: the only channel task processes use to reach state, XCom and secrets."""

from airflow_sc.api.execution.handlers import ExecutionHandlers, TryConflict, TryNotFound
from airflow_sc.api.execution.routes import ExecutionApi, create_execution_app
from airflow_sc.api.execution.tokens import (
    ExecutionTokens,
    TokenError,
    TokenExpired,
    generate_secret,
)

__all__ = [
    "ExecutionApi",
    "ExecutionHandlers",
    "ExecutionTokens",
    "TokenError",
    "TokenExpired",
    "TryConflict",
    "TryNotFound",
    "create_execution_app",
    "generate_secret",
]
