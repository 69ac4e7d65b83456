"""`airflow-sc dags trigger|pause|unpause|list-runs`: DAG runs and pausing from the shell.

Writes go through the operator actions the REST API uses (`airflow_sc.actions`), then wake
the deployment's scheduler (`scheduler.changes.local_socket.wake_scheduler`), so a
triggered run starts within moments instead of at the scheduler's next sweep.
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from airflow_sc.actions import ActionError, set_dag_paused, trigger_dag_run
from airflow_sc.actions.trigger import manual_run_id
from airflow_sc.cli._arguments import UsageError, fail, parse_conf, parse_datetime, utcnow
from airflow_sc.cli._database import open_settings_database
from airflow_sc.cli._listing import add_listing_options, listing_from, name_pattern_from
from airflow_sc.cli._output import FORMATS, render
from airflow_sc.config import Settings
from airflow_sc.db.queries.api_runs import (
    DAG_RUN_ORDER_KEYS,
    DagRunFilter,
    DagRunRow,
    dag_exists,
    get_dag_run,
    list_dag_runs,
)
from airflow_sc.domain.listing import Range
from airflow_sc.scheduler.changes import Change
from airflow_sc.scheduler.changes.local_socket import wake_scheduler
from airflow_sc.sdk.params import ParamValidationError

__all__ = ["RUN_COLUMNS", "register_runs"]

#: Columns `dags trigger` and `dags list-runs` print, in order.
RUN_COLUMNS = [
    "dag_id",
    "run_id",
    "state",
    "run_type",
    "logical_date",
    "run_after",
    "start_date",
    "end_date",
    "conf",
]

RUN_STATES = ("queued", "running", "success", "failed")
#: `dags list-runs` shows the latest runs first.
LIST_RUNS_ORDER = "-logical_date"


def register_runs(actions: Any) -> None:
    """Add ``trigger``, ``pause``, ``unpause`` and ``list-runs`` to the ``dags`` group."""
    trigger = actions.add_parser("trigger", help="create a manual DAG run (queued)")
    trigger.add_argument("dag_id", metavar="DAG_ID")
    trigger.add_argument("-c", "--conf", help="the run's conf, a JSON object")
    trigger.add_argument("-r", "--run-id", help="the run id (default: manual__<logical date>)")
    trigger.add_argument(
        "-l",
        "--logical-date",
        help="ISO date or datetime (default: now); naive means core.default_timezone",
    )
    _add_output(trigger)
    trigger.set_defaults(handler=trigger_dag)

    for name, paused in (("pause", True), ("unpause", False)):
        parser = actions.add_parser(
            name, help="stop creating and scheduling runs" if paused else "resume a paused DAG"
        )
        parser.add_argument("dag_id", metavar="DAG_ID")
        _add_output(parser)
        parser.set_defaults(handler=pause_dag if paused else unpause_dag)

    runs = actions.add_parser("list-runs", help="a DAG's runs, latest logical date first")
    runs.add_argument("dag_id", metavar="DAG_ID")
    runs.add_argument("--state", choices=RUN_STATES, help="only runs in this state")
    runs.add_argument("-s", "--start-date", help="only runs whose logical date is at or after")
    runs.add_argument("-e", "--end-date", help="only runs whose logical date is at or before")
    add_listing_options(
        runs,
        order_keys=DAG_RUN_ORDER_KEYS,
        default_order=LIST_RUNS_ORDER,
        patterns=["run_id"],
        limit=100,
    )
    _add_output(runs)
    runs.set_defaults(handler=list_runs)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default="table")


def run_row(run: DagRunRow) -> dict[str, Any]:
    return {column: getattr(run, column) for column in RUN_COLUMNS}


def trigger_dag(args: argparse.Namespace, settings: Settings) -> int:
    try:
        conf = parse_conf(args.conf)
        logical_date = parse_datetime(args.logical_date, settings, name="--logical-date")
    except UsageError as exc:
        return fail(str(exc), 2)

    async def trigger() -> DagRunRow | None:
        now = utcnow()
        # As Airflow's CLI: dated now unless told, named after the logical date.
        when = logical_date or now
        async with open_settings_database(settings) as db:
            created: list[int] = []
            triggered = await trigger_dag_run(
                db,
                args.dag_id,
                now=now,
                conf=conf,
                logical_date=when,
                run_id=args.run_id or manual_run_id(when),
                triggered_by="cli",
                allowed_run_id_pattern=settings.scheduler.allowed_run_id_pattern,
                wake=created.extend,
            )
            await wake_scheduler(db, settings.core.home, [Change.RUNS_CREATED], created)
            return await get_dag_run(db, triggered.dag_id, triggered.run_id)

    try:
        run = anyio.run(trigger)
    except ParamValidationError as exc:
        return fail(f"--conf does not match the params of DAG {args.dag_id!r}: {exc}")
    except ActionError as exc:
        return fail(str(exc))
    assert run is not None  # created in the transaction that just committed
    print(render([run_row(run)], RUN_COLUMNS, args.output))
    return 0


def _set_paused(args: argparse.Namespace, settings: Settings, paused: bool) -> int:
    async def set_paused() -> None:
        async with open_settings_database(settings) as db:
            await set_dag_paused(db, args.dag_id, paused)
            await wake_scheduler(db, settings.core.home, [Change.DAG_CHANGED])

    try:
        anyio.run(set_paused)
    except ActionError as exc:
        return fail(str(exc))
    print(
        render([{"dag_id": args.dag_id, "is_paused": paused}], ["dag_id", "is_paused"], args.output)
    )
    return 0


def pause_dag(args: argparse.Namespace, settings: Settings) -> int:
    return _set_paused(args, settings, True)


def unpause_dag(args: argparse.Namespace, settings: Settings) -> int:
    return _set_paused(args, settings, False)


def list_runs(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start = parse_datetime(args.start_date, settings, name="--start-date")
        end = parse_datetime(args.end_date, settings, name="--end-date")
    except UsageError as exc:
        return fail(str(exc), 2)
    listing = listing_from(args, DAG_RUN_ORDER_KEYS, LIST_RUNS_ORDER)
    where = DagRunFilter(
        dag_ids=[args.dag_id],
        states=None if args.state is None else [args.state],
        logical_date=Range(gte=start, lte=end),
        run_id_pattern=name_pattern_from(args, "run_id"),
    )

    async def read() -> list[DagRunRow] | None:
        async with open_settings_database(settings) as db:
            if not await dag_exists(db, args.dag_id):
                return None
            return (await list_dag_runs(db, where, listing)).items

    runs = anyio.run(read)
    if runs is None:
        return fail(f"DAG {args.dag_id!r} not found")
    print(render([run_row(run) for run in runs], RUN_COLUMNS, args.output))
    return 0
