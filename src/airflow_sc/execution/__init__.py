"""The execution protocol: what a try's process may do, and the one service that does it.

A task process (a local executor's fork, a remote worker, an in-process ``async def`` try)
reaches state, XCom, variables and connections only through these operations, with a
token scoped to its try. Two transports carry them: HTTP (`airflow_sc.api.execution`,
mounted at ``/execution``) and the local executor's pipe channel; both hand each call to
one `ExecutionDispatcher` (token -> arguments -> service -> answer).

- `protocol`: the operations and their arguments, checked once for every transport;
- `errors`: each refusal with its status (400, 401, 403, 404, 409);
- `tokens`: short-lived JWTs scoped to one try;
- `context`: the `TryContext` a try receives when it starts;
- `port`: `TryService`, what executors and transports depend on;
- `service`: `ExecutionService`, the implementation over the database (one per process);
- `dispatch`: `ExecutionDispatcher`.

This package imports no web framework. Importing it (``airflow_sc.execution``) loads the
protocol only, so a task process does not pay for the database layer.
"""

from airflow_sc.execution.context import TryContext
from airflow_sc.execution.errors import (
    BadRequest,
    ExecutionError,
    Forbidden,
    NotFound,
    TryConflict,
    TryNotFound,
    Unauthorized,
)
from airflow_sc.execution.protocol import FINISH_STATES, Operation, Start, TryFinish

__all__ = [
    "FINISH_STATES",
    "BadRequest",
    "ExecutionError",
    "Forbidden",
    "NotFound",
    "Operation",
    "Start",
    "TryConflict",
    "TryContext",
    "TryFinish",
    "TryNotFound",
    "Unauthorized",
]
