"""`TryService`: the execution service as executors and transports depend on it.

`airflow_sc.execution.service.ExecutionService` is the implementation (one per process,
built by the composition root). Executors and the transports hold this Protocol, so a test
can wrap the real service (count calls, slow one down) without touching the database layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from airflow_sc.execution.context import TryContext
from airflow_sc.execution.protocol import (
    DagRunTrigger,
    Start,
    TriggerOutcome,
    TryFinish,
    XComRef,
)

__all__ = ["DagRunTriggers", "RunXComs", "TryService"]

#: Every XCom of a DAG run, by (task_id, map_index, key).
RunXComs = dict[tuple[str, int, str], Any]


class DagRunTriggers(Protocol):
    """How the execution service starts a DAG run a task asked for.

    The implementation is the operator action (`airflow_sc.actions.operator_triggers`),
    which the composition root hands to the service: the execution layer sits below the
    actions and does not import them.
    """

    async def trigger(self, request: DagRunTrigger, *, now: datetime) -> TriggerOutcome:
        """Create the run (or clear it, or report why not). `NotFound` for an unknown DAG,
        `BadRequest` for a conf its params refuse."""
        ...


class TryService(Protocol):
    """The operations of the execution protocol, for the try `ti_id` each names.

    Starts, finishes and run XCom reads arriving together are batched into one
    transaction each. A refused call raises `airflow_sc.execution.errors.ExecutionError`.
    """

    async def start(self, ti_id: str, start: Start) -> TryContext:
        """queued -> running; the try's context. `TryConflict` when it is not queued."""
        ...

    async def heartbeat(self, ti_id: str) -> None:
        """Record liveness; `TryConflict` when the try is no longer running."""
        ...

    async def heartbeat_many(self, ti_ids: Sequence[str]) -> set[str]:
        """`heartbeat` for several tries in one transaction; the ids still running."""
        ...

    async def finish(self, finish: TryFinish) -> None:
        """running -> the finish's state; `TryConflict` when the try is no longer running."""
        ...

    async def get_xcom(self, ti_id: str, task_id: str, key: str, map_index: int) -> Any:
        """The value `task_id` pushed under `key` in the try's run; `NotFound` if none."""
        ...

    async def find_xcom(self, ti_id: str, ref: XComRef) -> Any:
        """An XCom of another run or DAG, or of earlier runs (`XComRef`); `NotFound` if none."""
        ...

    async def set_xcom(self, ti_id: str, key: str, value: Any, *, task_id: str | None) -> None:
        """Push for the try's own task (`Forbidden` when `task_id` names another)."""
        ...

    async def run_xcoms(self, ti_id: str) -> RunXComs:
        """Every XCom of the try's DAG run."""
        ...

    async def trigger_dag_run(self, ti_id: str, request: DagRunTrigger) -> TriggerOutcome:
        """Start the run a task asked for (see `DagRunTriggers`)."""
        ...

    async def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state; None when there is no such run."""
        ...

    async def get_variable(self, key: str) -> str | None: ...

    async def set_variable(self, key: str, value: str, *, description: str | None) -> None: ...

    async def delete_variable(self, key: str) -> bool: ...

    async def get_connection(self, conn_id: str) -> dict[str, Any] | None: ...
