"""How `airflow-sc run` and the single-component commands build their components.

`compose` builds, once per process, what every component shares: the services (keys,
secrets, masker, clock, execution tokens: `airflow_sc.services`), the one execution
service, and the change feed through which the components wake each other. The components
are started in the order API -> DAG processor -> scheduler (whose task group also runs the
executors) and drain in reverse, so running tasks can still report to the execution API
while the scheduler drains. The scheduler gets the API server's endpoint from the tree
(`Component.uses`) when its executors' tries call the execution API over HTTP.

Wake-ups: every component announces to the process's `ChangeFeed`; a scheduler in this
process subscribes to it, and hears other processes through its transport's receiver
(PostgreSQL NOTIFY, or the SQLite scheduler's socket). A process without a scheduler sends
what it announces to the schedulers of other processes instead.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.actions.operator_triggers import OperatorTriggers
from airflow_sc.cli._api_process import serve_api_process
from airflow_sc.config import Settings
from airflow_sc.dag_processing.processor import serve_dag_processor
from airflow_sc.db import Database
from airflow_sc.db.retry import DEFAULT_RETRY
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.protocol import EXECUTION_API_PREFIX
from airflow_sc.execution.service import ExecutionService
from airflow_sc.executors import Executor
from airflow_sc.executors.inprocess import InProcessExecutor
from airflow_sc.executors.local import LocalExecutor
from airflow_sc.executors.routing import INPROCESS, LOCAL, configured_executors
from airflow_sc.impersonation import Impersonation
from airflow_sc.runtime import Component, HttpEndpoint, Shutdown
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.scheduler.changes.local_socket import (
    SocketPublisher,
    send_note,
    serve_socket_receiver,
    wake_socket_path,
)
from airflow_sc.scheduler.changes.postgres import NotifyPublisher, serve_notify_bridge
from airflow_sc.scheduler.deps import SchedulerDeps
from airflow_sc.scheduler.ownership import open_scheduler_ownership
from airflow_sc.scheduler.service import SchedulerHandle, serve_scheduler
from airflow_sc.scheduler.stages.housekeeping import housekeeping_stage
from airflow_sc.scheduler.succession import open_scheduler_seat
from airflow_sc.services import Services, load_services

if TYPE_CHECKING:
    from airflow_sc.api import ApiContext
    from airflow_sc.api.list_cache import ListCache

__all__ = ["Composition", "compose"]

Trigger = Callable[[], Awaitable[None]]


@dataclass
class Composition:
    """The components of one process, over what it built once: its database, its services,
    its one execution service and its change feed."""

    settings: Settings
    db: Database
    shutdown: Shutdown
    services: Services
    execution: ExecutionService
    changes: ChangeFeed
    #: The components this process runs (`ALL_COMPONENTS` names).
    names: frozenset[str]
    #: In the API server process `airflow-sc run` supervises (`cli._api_process`): the
    #: listening socket it bound, and where it sends this process the notes it announces.
    api_socket: socket.socket | None = None
    notes_socket: Path | None = None

    @property
    def api_in_child(self) -> bool:
        """The `api` component supervises an API server process (`api.separate_process`,
        under `airflow-sc run`) instead of serving here."""
        return "api" in self.names and len(self.names) > 1 and self.settings.api.separate_process

    def components(self) -> list[Component]:
        api = Component("api", self.serve_api)
        if self.api_in_child:
            notes = SocketPublisher(wake_socket_path(self.settings.core.home, "api"))
            api = Component("api", partial(serve_api_process, self.settings, notes, self.shutdown))
            # Everything this process announces (scheduler, DAG processor, execution
            # service) reaches the API server's list cache and live pages.
            self.changes.add_outbound(notes.send)
        available = {
            "api": api,
            "dag_processor": Component(
                "dag_processor",
                partial(
                    serve_dag_processor,
                    self.settings,
                    self.db,
                    on_stored=self.changes.dag_changed,
                ),
            ),
            "scheduler": Component("scheduler", self.serve_scheduler, uses=("api",)),
        }
        chosen = [component for name, component in available.items() if name in self.names]
        if self.notes_socket is not None:
            # Before the API: the supervising process's notes are heard once it serves.
            chosen.insert(0, Component("supervisor_notes", self._serve_supervisor_notes))
        if "scheduler" not in self.names:
            # The schedulers run elsewhere: what this process announces goes to them.
            if self.db.dialect == "postgresql":
                publisher = NotifyPublisher(self.db)
                self.changes.add_outbound(publisher.send)
                # First in, last out: the other components' wake-ups reach the schedulers.
                chosen.insert(0, Component("scheduler_notes", publisher.serve))
            else:
                path = wake_socket_path(self.settings.core.home)
                self.changes.add_outbound(partial(send_note, path))
        return chosen

    def api_context(self) -> ApiContext:
        # Imported here: a process without the API server (`airflow-sc scheduler`) does not
        # load the web stack.
        from airflow_sc.api import ApiContext

        return ApiContext.from_services(
            self.settings,
            # A request gives up after a bounded retry (503 + Retry-After) where the
            # components wait an outage out; the execution API's calls go to the one
            # execution service, which waits like the executors' own calls.
            self.db.with_retry(DEFAULT_RETRY),
            self.services,
            execution=ExecutionDispatcher(
                self.execution,
                self.services.tokens,
                max_json_depth=self.settings.api.max_request_json_depth,
            ),
            shutdown=self.shutdown,
            wake=self.changes.operator_changed,
            list_cache=self._list_cache(),
        )

    def _list_cache(self) -> ListCache | None:
        """The API's list cache, when this process's feed hears every change: the DAG
        processor and the scheduler (with the receiver of other processes' notes) run here,
        or this is the API server process of an `airflow-sc run`, which sends it all its
        feed announces."""
        max_age = self.settings.api.list_cache_max_age
        hears_all = {"api", "dag_processor", "scheduler"} <= self.names
        if max_age <= 0 or not (hears_all or self.notes_socket is not None):
            return None
        from airflow_sc.api.list_cache import ListCache

        return ListCache(max_age=max_age)

    async def serve_api(
        self, *, shutdown_trigger: Trigger, task_status: TaskStatus[HttpEndpoint]
    ) -> None:
        from airflow_sc.api import serve_api
        from airflow_sc.ui import create_web_app

        ctx = self.api_context()
        with (
            self.changes.subscribe(ctx.list_cache.hear)
            if ctx.list_cache is not None
            else nullcontext()
        ):
            await serve_api(
                ctx,
                shutdown_trigger=shutdown_trigger,
                app_factory=partial(create_web_app, changes=self.changes),
                task_status=task_status,
                sock=self.api_socket,
            )

    async def _serve_supervisor_notes(
        self, *, shutdown_trigger: Trigger, task_status: TaskStatus[None]
    ) -> None:
        """The notes of the supervising `airflow-sc run`, delivered to this process's feed
        until `shutdown_trigger()` returns."""
        assert self.notes_socket is not None
        async with anyio.create_task_group() as tg:
            await tg.start(serve_socket_receiver, self.notes_socket, self.changes)
            task_status.started()
            await shutdown_trigger()
            tg.cancel_scope.cancel()

    async def serve_scheduler(
        self,
        *,
        started: Mapping[str, Any],
        shutdown_trigger: Trigger,
        task_status: TaskStatus[SchedulerHandle],
    ) -> None:
        """The scheduler, its executors, and the receiver of other processes' notes.

        `started` holds the API's endpoint when the API server runs in this process (its
        URL is the execution API's).
        """
        settings = self.settings
        api: HttpEndpoint | None = started.get("api")
        async with (
            open_scheduler_ownership(settings.database_url),
            open_scheduler_seat(settings.core.home) as seat,
        ):
            deps = SchedulerDeps.from_settings(
                settings,
                self.db,
                self.executors(None if api is None else api.url + EXECUTION_API_PREFIX),
                clock=self.services.clock,
                changes=self.changes,
                extra_stages=[housekeeping_stage(settings.scheduler)],
                seat=seat,
            )
            async with anyio.create_task_group() as tg:

                async def run(*, task_status: TaskStatus[SchedulerHandle]) -> None:
                    await serve_scheduler(
                        deps, shutdown_trigger=shutdown_trigger, task_status=task_status
                    )
                    tg.cancel_scope.cancel()  # the receiver goes with the scheduler

                handle: SchedulerHandle = await tg.start(run)
                await tg.start(self._serve_receiver)
                task_status.started(handle)

    async def _serve_receiver(self, *, task_status: TaskStatus[None]) -> None:
        """Other processes' notes, delivered to this process's feed (and so its scheduler)."""
        if self.db.dialect == "postgresql":
            await serve_notify_bridge(self.db, self.changes, task_status=task_status)
        else:
            path = wake_socket_path(self.settings.core.home)
            await serve_socket_receiver(path, self.changes, task_status=task_status)

    def executors(self, api_url: str | None) -> list[Executor]:
        """The executors the settings configure (`routing.configured_executors`, what the
        DAG processor accepts), their tries reaching this process's execution service (or,
        over HTTP, the API server at `api_url`: this process's, else the configured one)."""
        settings = self.settings
        api_url = (
            api_url
            or settings.executor.execution_api_url
            or f"http://{settings.api.host}:{settings.api.port}{EXECUTION_API_PREFIX}"
        )
        configured = configured_executors(settings.executor)
        executors: list[Executor] = [
            LocalExecutor(
                parallelism=settings.core.parallelism,
                api_url=api_url,
                channel=settings.executor.local_channel,
                service=self.execution,
                tokens=self.services.tokens,
                max_json_depth=settings.api.max_request_json_depth,
                base_log_folder=settings.base_log_folder,
                heartbeat_interval=settings.scheduler.heartbeat_interval,
                heartbeat_timeout=settings.scheduler.heartbeat_timeout,
                terminate_grace=settings.executor.terminate_grace,
                # The scheduler gives running tries core.shutdown_grace before it cancels its
                # executors (`serve_scheduler`): cancelled, they stop what is left at once.
                shutdown_grace=0.0,
                clock=self.services.clock,
                name=LOCAL,
                impersonation=Impersonation.from_settings(settings),
            )
        ]
        if INPROCESS in configured:
            executors.append(
                InProcessExecutor(
                    service=self.execution,
                    base_log_folder=settings.base_log_folder,
                    capacity=settings.executor.inprocess_capacity,
                    blocking_threshold=settings.executor.blocking_threshold,
                    heartbeat_interval=settings.scheduler.heartbeat_interval,
                    shutdown_grace=0.0,  # as above
                    clock=self.services.clock,
                    name=INPROCESS,
                    default_impersonation=settings.core.default_impersonation,
                )
            )
        return executors


async def compose(
    settings: Settings, db: Database, shutdown: Shutdown, names: Collection[str]
) -> Composition:
    """The composition of a process running the components `names`: its services, its
    execution service and its change feed, built once."""
    services = await load_services(settings, db)
    changes = ChangeFeed()
    execution = ExecutionService(
        db,
        secrets=services.secrets,
        cipher=services.cipher,
        clock=services.clock,
        on_ti_finished=changes.tis_finished,
        dag_runs=OperatorTriggers(
            db,
            wake=changes.operator_changed,
            allowed_run_id_pattern=settings.scheduler.allowed_run_id_pattern,
        ),
    )
    return Composition(settings, db, shutdown, services, execution, changes, frozenset(names))
