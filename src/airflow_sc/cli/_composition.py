"""How `airflow-sc run` and the single-component commands build their components.

The components are started in the order API -> DAG processor -> scheduler (whose task
group also runs the executors) and drain in reverse, so running tasks can still report to
the execution API while the scheduler drains. Wake-ups between them travel through a
`WakeHub`: the API and the DAG processor may start before the scheduler they wake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from airflow_sc.api import ApiContext, serve_api
from airflow_sc.api.app import EXECUTION_API_PREFIX
from airflow_sc.api.context import prepare_context
from airflow_sc.api.execution.handlers import ExecutionHandlers
from airflow_sc.api.execution.mount import execution_tokens_for
from airflow_sc.cli._local_wake import local_wake_stage, send_local_wake, wake_socket_path
from airflow_sc.cli._note_publisher import NotePublisher
from airflow_sc.config import Settings
from airflow_sc.dag_processing.processor import serve_dag_processor
from airflow_sc.executors import Executor
from airflow_sc.executors.inprocess import InProcessExecutor
from airflow_sc.executors.local import LocalExecutor
from airflow_sc.runtime import Component, HttpEndpoint
from airflow_sc.scheduler.deps import SchedulerDeps
from airflow_sc.scheduler.notify import Change, encode_ping, serve_notify_bridge
from airflow_sc.scheduler.ownership import open_scheduler_ownership
from airflow_sc.scheduler.service import SchedulerHandle, serve_scheduler
from airflow_sc.scheduler.stages.housekeeping import housekeeping_stage

Trigger = Callable[[], Awaitable[None]]


@dataclass
class WakeHub:
    """Forwards wake-ups to the scheduler once it runs in this process.

    Before that (or in a process without one) they go to the schedulers of other
    processes: over NOTIFY on PostgreSQL (`notes`), to the wake socket of the scheduler
    process on SQLite (`elsewhere`, see `_local_wake`); otherwise they are dropped.
    """

    scheduler: SchedulerHandle | None = None
    api_url: str | None = None
    elsewhere: Path | None = None
    notes: NotePublisher | None = None

    def wake(self, run_pks: Collection[int] = ()) -> None:
        if self.scheduler is not None:
            self.scheduler.wake(run_pks)
        elif self.notes is not None:
            self.notes.post(Change.RUNS_CHANGED, run_pks)
        elif self.elsewhere is not None:
            send_local_wake(self.elsewhere, encode_ping([Change.RUNS_CHANGED], run_pks))

    def dag_changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake_dag_changed()
        elif self.notes is not None:
            self.notes.post(Change.DAG_CHANGED)
        elif self.elsewhere is not None:
            send_local_wake(self.elsewhere, encode_ping([Change.DAG_CHANGED]))


@dataclass
class Composition:
    settings: Settings
    ctx: ApiContext
    hub: WakeHub = field(default_factory=WakeHub)

    def components(self, names: Collection[str]) -> list[Component]:
        available = {
            "api": Component("api", self.serve_api),
            "dag_processor": Component(
                "dag_processor",
                partial(
                    serve_dag_processor, self.settings, self.ctx.db, on_stored=self.hub.dag_changed
                ),
            ),
            "scheduler": Component("scheduler", self.serve_scheduler),
        }
        chosen = [component for name, component in available.items() if name in names]
        if self.ctx.db.dialect == "postgresql" and "scheduler" not in names:
            # First in, last out: wake-ups of the other components reach the schedulers.
            notes = self.hub.notes = NotePublisher(self.ctx.db)
            chosen.insert(0, Component("scheduler_notes", notes.serve))
        return chosen

    async def serve_api(
        self, *, shutdown_trigger: Trigger, task_status: TaskStatus[HttpEndpoint]
    ) -> None:
        async def recorded(*, task_status: TaskStatus[HttpEndpoint]) -> None:
            await serve_api(self.ctx, shutdown_trigger=shutdown_trigger, task_status=task_status)

        async with anyio.create_task_group() as tg:
            endpoint: HttpEndpoint = await tg.start(recorded)
            self.hub.api_url = endpoint.url + EXECUTION_API_PREFIX
            task_status.started(endpoint)

    async def serve_scheduler(
        self, *, shutdown_trigger: Trigger, task_status: TaskStatus[SchedulerHandle]
    ) -> None:
        settings = self.settings
        async with open_scheduler_ownership(settings.database_url):
            deps = SchedulerDeps.from_settings(
                settings,
                self.ctx.db,
                self.executors(),
                extra_stages=[
                    housekeeping_stage(settings.scheduler),
                    serve_notify_bridge,
                    local_wake_stage(wake_socket_path(settings.core.home)),
                ],
            )

            async def run(*, task_status: TaskStatus[SchedulerHandle]) -> None:
                await serve_scheduler(
                    deps, shutdown_trigger=shutdown_trigger, task_status=task_status
                )

            async with anyio.create_task_group() as tg:
                handle: SchedulerHandle = await tg.start(run)
                self.hub.scheduler = handle
                task_status.started(handle)

    def executors(self) -> list[Executor]:
        settings = self.settings
        api_url = (
            self.hub.api_url
            or settings.executor.execution_api_url
            or f"http://{settings.api.host}:{settings.api.port}{EXECUTION_API_PREFIX}"
        )
        tokens = execution_tokens_for(self.ctx)
        handlers = ExecutionHandlers(
            db=self.ctx.db,
            secrets=self.ctx.require_secrets(),
            on_ti_finished=self.hub.wake,
            cipher=self.ctx.require_cipher(),
        )
        executors: list[Executor] = [
            LocalExecutor(
                parallelism=settings.core.parallelism,
                api_url=api_url,
                channel=settings.executor.local_channel,
                handlers=handlers,
                issue_token=tokens.issue,
                verify_token=tokens.verify,
                base_log_folder=settings.base_log_folder,
                heartbeat_interval=settings.scheduler.heartbeat_interval,
                terminate_grace=settings.executor.terminate_grace,
                # The scheduler gives running tries core.shutdown_grace before it cancels its
                # executors (`serve_scheduler`): cancelled, they stop what is left at once.
                shutdown_grace=0.0,
            )
        ]
        if settings.executor.inprocess_enabled:
            executors.append(
                InProcessExecutor(
                    handlers=handlers,
                    base_log_folder=settings.base_log_folder,
                    capacity=settings.executor.inprocess_capacity,
                    blocking_threshold=settings.executor.blocking_threshold,
                    heartbeat_interval=settings.scheduler.heartbeat_interval,
                    shutdown_grace=0.0,  # as above
                )
            )
        return executors


async def compose(settings: Settings, ctx: ApiContext, hub: WakeHub) -> Composition:
    """A composition whose API context has its keys loaded (they are shared with executors)."""
    prepared = await prepare_context(ctx)
    if ctx.db.dialect == "sqlite":
        hub.elsewhere = wake_socket_path(settings.core.home)
    return Composition(settings=settings, ctx=prepared, hub=hub)


__all__ = ["Composition", "WakeHub", "compose"]
