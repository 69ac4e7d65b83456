"""What the scheduler's stages run on: the database, the executors, the clock, a few limits."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskStatus

from airflow_sc.config.settings import Settings
from airflow_sc.db import Database
from airflow_sc.executors.base import Executor
from airflow_sc.executors.routing import ExecutorRouting
from airflow_sc.scheduler.changes.feed import ChangeFeed
from airflow_sc.scheduler.dag_versions import DagVersions
from airflow_sc.scheduler.run_listeners import RunNotices

if TYPE_CHECKING:
    from airflow_sc.scheduler.succession import SchedulerSeat
    from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = ["SchedulerDeps", "Stage", "StageDeps", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Stage(Protocol):
    """A scheduler stage: loops until cancelled; `task_status.started()` once running."""

    async def __call__(
        self, deps: StageDeps, wakeups: StageWakeups, *, task_status: TaskStatus[None]
    ) -> None: ...


@dataclass(frozen=True)
class SchedulerDeps:
    """Everything `serve_scheduler` is built from (see `from_settings`)."""

    db: Database
    executors: Sequence[Executor]
    #: Executor for tasks that name none (default: the first of `executors`).
    default_executor: str | None = None
    #: Run `async def` tasks on the executor named `inprocess` when there is one.
    inprocess_for_async: bool = True
    #: Task instances queued or running at once (None: no global limit).
    parallelism: int | None = 32
    clock: Callable[[], datetime] = utcnow
    #: Seconds between safety-net passes of each stage (wake-ups make passes sooner).
    sweep_interval: float = 10.0
    #: Rows one pass of create_runs / start_runs handles at most (the rest: next pass).
    batch_limit: int = 512
    heartbeat_interval: float = 5.0
    #: Seconds running task instances get to finish after shutdown starts.
    shutdown_grace: float = 30.0
    #: Stages other packages plug in (housekeeping): started after the pipeline, stopped
    #: with it when shutdown starts.
    extra_stages: Sequence[Stage] = ()
    #: The home's scheduler seat, when this process runs on a home (`succession.py`): the
    #: work of the process it replaces is reclaimed at once.
    seat: SchedulerSeat | None = None
    #: The process's wake-ups: the scheduler's stages hear what is announced there (a
    #: try's end recorded by the execution service, an operator action, a new DAG
    #: version) while it runs.
    changes: ChangeFeed | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db: Database,
        executors: Sequence[Executor],
        **overrides: Any,
    ) -> SchedulerDeps:
        values: dict[str, Any] = {
            "db": db,
            "executors": executors,
            "default_executor": settings.executor.default,
            "inprocess_for_async": settings.executor.inprocess_enabled,
            "parallelism": settings.core.parallelism,
            "sweep_interval": settings.scheduler.sweep_interval,
            "heartbeat_interval": settings.scheduler.heartbeat_interval,
            "shutdown_grace": settings.core.shutdown_grace,
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class StageDeps:
    """What every stage of one running scheduler shares."""

    deps: SchedulerDeps
    job_id: int | None
    versions: DagVersions = field(default_factory=DagVersions)
    #: Set once shutdown starts: stages that take new work stop after their pass.
    stopping: anyio.Event = field(default_factory=anyio.Event)
    #: Set once running work has drained: the remaining stages stop after their pass.
    finished: anyio.Event = field(default_factory=anyio.Event)
    #: The scope executor_events waits for events in: cancelled to stop it while it waits
    #: (never mid-batch).
    events_wait: anyio.CancelScope | None = None
    #: Which executor runs a task (a default executor that does not run fails here).
    routing: ExecutorRouting = field(init=False)
    #: DAG-run state changes for the listener plugins (noted after each commit).
    run_notices: RunNotices = field(default_factory=RunNotices)

    def __post_init__(self) -> None:
        self.routing = ExecutorRouting.of(
            [executor.name for executor in self.deps.executors],
            self.deps.default_executor,
            inprocess_for_async=self.deps.inprocess_for_async,
        )

    def progressed(self, run_pks: Collection[int] | None) -> None:
        """Tell the process's other subscribers that a stage moved these runs along."""
        if self.deps.changes is not None:
            self.deps.changes.runs_progressed(run_pks)

    def finish(self) -> None:
        """Stop the remaining stages once they are idle (after the drain)."""
        self.finished.set()
        if self.events_wait is not None:
            self.events_wait.cancel()

    @property
    def db(self) -> Database:
        return self.deps.db

    def now(self) -> datetime:
        return self.deps.clock()

    @property
    def executors(self) -> Mapping[str, Executor]:
        return {executor.name: executor for executor in self.deps.executors}
