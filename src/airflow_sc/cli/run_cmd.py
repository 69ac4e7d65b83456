"""`airflow-sc run`: every component in one process under one root task group."""

from __future__ import annotations

import argparse
import logging
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.api import ApiContext, serve_api
from airflow_sc.config import Settings
from airflow_sc.dag_processing.processor import serve_dag_processor
from airflow_sc.db import DatabaseUrl
from airflow_sc.db.engine import open_database
from airflow_sc.db.errors import DatabaseUnavailable
from airflow_sc.db.schema import SchemaError, ensure_schema_for_run
from airflow_sc.observability.logging import configure_logging
from airflow_sc.runtime import Component, Shutdown, serve_components
from airflow_sc.runtime.root import execute

log = logging.getLogger("airflow_sc")

#: Errors whose message says everything: printed without a traceback.
USER_ERRORS = (SchemaError, DatabaseUnavailable)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run", help="start every component (API, scheduler, ...) in one process"
    )
    parser.add_argument(
        "--backend",
        choices=["asyncio", "trio"],
        default="asyncio",
        help="anyio backend to run on (default: asyncio)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.logging.level)
    prepare_home(settings)
    return execute(settings, backend=args.backend, tree=serve_tree, user_errors=USER_ERRORS)


def prepare_home(settings: Settings) -> None:
    for folder in (settings.core.home, settings.dags_folder, settings.base_log_folder):
        folder.mkdir(parents=True, exist_ok=True)


async def serve_tree(
    settings: Settings,
    shutdown: Shutdown,
    *,
    task_status: TaskStatus[dict[str, Any]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Infrastructure (database), then the components in dependency order."""
    url = settings.database_url
    await ensure_schema_for_run(url)
    async with open_database(
        url,
        pool_size=settings.database.pool_size,
        statement_timeout=settings.database.statement_timeout,
        adapter=settings.database.adapter,
    ) as db:
        log.info(
            "metadata database: %s (%s adapter)", DatabaseUrl.parse(url).redacted(), db.adapter
        )
        ctx = ApiContext(settings=settings, db=db, shutdown=shutdown)
        components = [
            Component("api", partial(serve_api, ctx)),
            Component("dag_processor", partial(serve_dag_processor, settings, db)),
        ]
        await serve_components(
            components, shutdown_trigger=shutdown.wait_drain, task_status=task_status
        )
