"""The executor port: what the scheduler needs from anything that runs task instances.

The scheduler submits `Workload`s after it has committed them as QUEUED, and reads
`TaskEvent`s from one memory stream shared by all executors (each gets a clone of the
send side in `serve`). An executor never writes a try's state itself: a try's process
moves its own try through the execution service (`airflow_sc.execution`), and the
executor only says, once per try, that the process ended and whether it had recorded how.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.domain import TaskInstanceKey, TaskInstanceState


@dataclass(frozen=True, slots=True)
class Workload:
    """One try of one task instance, as handed to an executor."""

    #: `task_instance.id` of this try: what execution-API tokens are scoped to.
    ti_id: str
    key: TaskInstanceKey
    #: The DAG file and serialized version the task is loaded from.
    dag_fileloc: str
    dag_hash: str
    queue: str = "default"
    priority_weight: int = 1
    pool_slots: int = 1
    executor: str | None = None
    #: Seconds the try may run before it is killed (None: no limit).
    execution_timeout: float | None = None
    is_async: bool = False
    #: The task's ``run_as_user``, from the DAG version (None: the deployment's default).
    run_as_user: str | None = None
    #: Anything an executor-specific adapter needs (e.g. Celery routing).
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """A submitted try's process ended (one event per try an executor started or dropped).

    `recorded` is the state the try recorded through the execution service before its
    process ended: the row holds it already, and the scheduler only wakes up (for the
    freed slot). None: the process ended without recording one (it crashed, was killed,
    timed out, was stopped at shutdown, died with its worker, or was dropped before it
    started): the scheduler's executor_events ends the try, ``up_for_retry`` or
    ``failed`` by the one retry rule (`airflow_sc.domain.retries`).

    A try whose process could not start it (another process holds it) gets no event.
    """

    ti_id: str
    key: TaskInstanceKey
    at: datetime
    recorded: TaskInstanceState | None = None
    #: Why, in words a user reads in the UI (exit code, error summary, timeout).
    info: str | None = None


class Executor(ABC):
    """Runs workloads and reports what happened to them."""

    #: The name tasks use in their `executor=` argument.
    name: str

    @abstractmethod
    async def serve(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run until cancelled, sending every `TaskEvent` to `events` (closed on exit)."""

    @abstractmethod
    async def submit(self, workloads: Sequence[Workload]) -> None:
        """Start these tries (already committed as QUEUED); returns once they are accepted."""

    @abstractmethod
    async def terminate(self, ti_id: str, *, reason: str) -> None:
        """Stop a running try; its FAILED event carries `reason`."""

    def open_slots(self) -> int | None:
        """How many more tries it can start now (None: no limit of its own)."""
        return None
