"""`airflow-sc run` (every component under one command: the API in a child process of its
own, `cli._api_process`, unless `api.separate_process` is false) and the single-component
commands.

`airflow-sc api-server` and `airflow-sc dag-processor` run the same `serve_*` functions
under a smaller root, so a deployment can spread components over processes and hosts.
"""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.compat import install_airflow_compat
from airflow_sc.config import Settings
from airflow_sc.db import DatabaseUrl
from airflow_sc.db.engine import open_database
from airflow_sc.db.errors import DatabaseUnavailable
from airflow_sc.db.retry import OUTAGE_RETRY
from airflow_sc.db.schema import SchemaError, ensure_schema_for_run
from airflow_sc.observability.logging import configure_logging
from airflow_sc.runtime import Shutdown, serve_components
from airflow_sc.runtime.hardening import make_non_dumpable, private_folder
from airflow_sc.runtime.root import execute
from airflow_sc.runtime.shutdown import drain_deadline
from airflow_sc.scheduler.ownership import SchedulerAlreadyRunning

if TYPE_CHECKING:
    from airflow_sc.cli._api_process import ApiChildOptions
    from airflow_sc.cli._composition import Composition

log = logging.getLogger("airflow_sc")

#: Errors whose message says everything: printed without a traceback.
USER_ERRORS = (SchemaError, DatabaseUnavailable, SchedulerAlreadyRunning)


#: Components in start order; they drain in reverse.
ALL_COMPONENTS = ("api", "dag_processor", "scheduler")

COMMANDS = {
    "run": (
        ALL_COMPONENTS,
        "start every component (API, DAG processor, scheduler) under one command; the API "
        "serves from a child process unless api.separate_process is false",
    ),
    "api-server": (("api",), "serve the REST API (and the execution API) only"),
    "dag-processor": (("dag_processor",), "parse DAG files only"),
    "scheduler": (("scheduler",), "schedule and execute task instances only"),
}


def register(commands: Any) -> None:
    for command, (components, help_text) in COMMANDS.items():
        parser = commands.add_parser(command, help=help_text)
        parser.add_argument(
            "--backend",
            choices=["asyncio", "trio"],
            default="asyncio",
            help="anyio backend to run on (default: asyncio)",
        )
        if command == "api-server":
            # Given by `airflow-sc run` to the API server process it supervises
            # (`cli._api_process`); not for users, so not in --help.
            parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
            parser.add_argument("--control-fd", type=int, help=argparse.SUPPRESS)
            parser.add_argument("--notes-socket", type=Path, help=argparse.SUPPRESS)
        parser.set_defaults(handler=partial(run, components=components))


def run(args: argparse.Namespace, settings: Settings, *, components: Sequence[str]) -> int:
    configure_logging(settings.logging.level)
    make_non_dumpable()  # before any key is read
    prepare_home(settings)
    install_airflow_compat(settings)  # DAG files, plugins, and the processes started here
    child = None
    if getattr(args, "control_fd", None) is not None:
        from airflow_sc.cli._api_process import ApiChildOptions

        child = ApiChildOptions(args.listen_fd, args.control_fd, args.notes_socket)
    tree = partial(serve_tree, components=components, child=child)
    return execute(
        settings,
        backend=args.backend,
        tree=tree,
        user_errors=USER_ERRORS,
        # The supervising `airflow-sc run` logs its own ready line once all it runs started.
        ready_message="airflow-sc ready" if child is None else "API server process ready",
    )


def prepare_home(settings: Settings) -> None:
    """The home and the log folder private to this OS user (0700); the DAG folder, the
    user's own files, as the user made it."""
    private_folder(settings.core.home)
    private_folder(settings.base_log_folder)
    settings.dags_folder.mkdir(parents=True, exist_ok=True)


async def serve_tree(
    settings: Settings,
    shutdown: Shutdown,
    *,
    components: Sequence[str] = ALL_COMPONENTS,
    child: ApiChildOptions | None = None,
    task_status: TaskStatus[dict[str, Any]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Infrastructure (database), then the chosen components in dependency order.

    `child`: this process is the API server `airflow-sc run` supervises (`cli._api_process`).
    """
    # Imported here, not at the top: every other `airflow-sc` command would pay for the
    # API stack's import (about half a second) on each call.
    from airflow_sc.auth import ensure_admin_user
    from airflow_sc.cli._composition import compose

    url = settings.database_url
    await ensure_schema_for_run(url)
    async with open_database(
        url,
        pool_size=settings.database.pool_size,
        statement_timeout=settings.database.statement_timeout,
        adapter=settings.database.adapter,
        # The components wait out a database outage (restart, failover) instead of failing;
        # the API answers 503 meanwhile (its requests use a bounded retry: `compose`).
        retry=OUTAGE_RETRY,
    ) as db:
        log.info(
            "metadata database: %s (%s adapter)", DatabaseUrl.parse(url).redacted(), db.adapter
        )
        if "api" in components:
            created = await ensure_admin_user(db, settings.core.home)
            if created is not None:
                log.warning("created user 'admin'; its password is in %s", created)
        composition = await compose(settings, db, shutdown, components)
        if child is None:
            await serve_components(
                composition.components(),
                shutdown_trigger=shutdown.wait_drain,
                task_status=task_status,
            )
            return
        await _serve_as_child(composition, child, task_status=task_status)


async def _serve_as_child(
    composition: Composition,
    child: ApiChildOptions,
    *,
    task_status: TaskStatus[dict[str, Any]],
) -> None:
    """The API server under `airflow-sc run`: on the socket and with the notes it passed,
    ready once it serves, drained when it says so (`cli._api_process`)."""
    from airflow_sc.cli._api_process import QUIESCE_REASON, READY, serve_control_channel

    settings, shutdown = composition.settings, composition.shutdown
    composition.api_socket = socket.socket(fileno=child.listen_fd)
    composition.notes_socket = child.notes_socket
    control = socket.socket(fileno=child.control_fd)
    grace = drain_deadline(
        shutdown_grace=0.0, terminate_grace=0.0, api_drain=settings.api.drain_timeout
    )
    # The components stop when the supervisor says so, or on a signal sent to this process
    # (the supervisor's last resort); its "quiesce" only makes the API refuse writes.
    stop = anyio.Event()
    control_scope = anyio.CancelScope()

    async def follow_supervisor() -> None:
        with control_scope:
            await serve_control_channel(control, shutdown, stop, grace=grace)

    async def follow_signals() -> None:
        await shutdown.wait_drain()
        if shutdown.reason != QUIESCE_REASON:
            stop.set()

    with control:
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow_supervisor)
            tg.start_soon(follow_signals)
            handles = await tg.start(
                partial(
                    serve_components,
                    composition.components(),
                    shutdown_trigger=stop.wait,
                )
            )
            control.send(READY)  # a few bytes into an empty socket pair: never blocks
            task_status.started(handles)
            await stop.wait()
            control_scope.cancel()
