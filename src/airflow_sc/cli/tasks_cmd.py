"""`airflow-sc tasks list|states-for-dag-run|state` (and, registered here, `test`, `clear`
and `logs`): a DAG's tasks and task instances from the shell.

Tasks come from the DAG's newest serialized version in the metadata database (what the
scheduler runs), not from importing the DAG files; only `tasks test` imports them.
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from airflow_sc.cli import tasks_clear, tasks_logs, tasks_test
from airflow_sc.cli._arguments import fail
from airflow_sc.cli._database import latest_spec, open_settings_database
from airflow_sc.cli._listing import (
    add_listing_options,
    listing_from,
    listing_options_given,
    name_pattern_from,
)
from airflow_sc.cli._output import FORMATS, render
from airflow_sc.cli.dags_cmd import render_tree
from airflow_sc.config import Settings
from airflow_sc.db.queries.api_runs import get_dag_run
from airflow_sc.db.queries.api_task_instances import (
    TASK_INSTANCE_ORDER_KEYS,
    TaskInstanceFilter,
    TaskInstanceRow,
    list_task_instances,
    task_instance_state,
)
from airflow_sc.domain.listing import in_memory_order
from airflow_sc.serialization import TASK_ORDER_KEYS, DagSpec

__all__ = ["TI_COLUMNS", "register"]

#: Columns `tasks states-for-dag-run` prints, in order.
TI_COLUMNS = [
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "state",
    "try_number",
    "start_date",
    "end_date",
]


def register(commands: Any) -> None:
    parser = commands.add_parser("tasks", help="inspect, test, clear tasks and read their logs")
    sub = parser.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)

    tasks = sub.add_parser("list", help="the tasks of a DAG")
    tasks.add_argument("dag_id", metavar="DAG_ID")
    tasks.add_argument(
        "-t", "--tree", action="store_true", help="every task, as a tree from the roots"
    )
    add_listing_options(
        tasks, order_keys=TASK_ORDER_KEYS, default_order="task_id", patterns=["task_id"]
    )
    tasks.set_defaults(handler=list_tasks)

    states = sub.add_parser("states-for-dag-run", help="the task instances of one DAG run")
    states.add_argument("dag_id", metavar="DAG_ID")
    states.add_argument("run_id", metavar="RUN_ID")
    states.add_argument("-o", "--output", choices=FORMATS, default="table")
    add_listing_options(
        states,
        order_keys=TASK_INSTANCE_ORDER_KEYS,
        default_order=None,
        patterns=["task_display_name"],
    )
    states.set_defaults(handler=states_for_dag_run)

    state = sub.add_parser("state", help="the state of one task instance")
    state.add_argument("dag_id", metavar="DAG_ID")
    state.add_argument("task_id", metavar="TASK_ID")
    state.add_argument("run_id", metavar="RUN_ID")
    state.add_argument("-m", "--map-index", type=int, default=-1, help="of a mapped task")
    state.set_defaults(handler=task_state)

    tasks_test.register_test(sub)
    tasks_clear.register_clear(sub)
    tasks_logs.register_logs(sub)


def _dag_not_found(dag_id: str) -> int:
    return fail(f"DAG {dag_id!r} not found (has it been parsed?)")


def list_tasks(args: argparse.Namespace, settings: Settings) -> int:
    listing = listing_from(args, TASK_ORDER_KEYS, "task_id")
    task_id = name_pattern_from(args, "task_id")
    if args.tree and (ignored := listing_options_given(args)):
        return fail(f"--tree shows every task: it takes no {', '.join(ignored)}", 2)

    async def read() -> DagSpec | None:
        async with open_settings_database(settings) as db:
            return await latest_spec(db, args.dag_id)

    spec = anyio.run(read)
    if spec is None:
        return _dag_not_found(args.dag_id)
    if args.tree:
        print(render_tree(spec))
        return 0
    tasks = in_memory_order(
        [task for task in spec.tasks.values() if task_id.matches(task.task_id)],
        listing,
        getattr,
        tiebreak=lambda task: task.task_id,
    )
    print("\n".join(task.task_id for task in tasks))
    return 0


def ti_row(ti: TaskInstanceRow) -> dict[str, Any]:
    return {column: getattr(ti, column) for column in TI_COLUMNS}


def states_for_dag_run(args: argparse.Namespace, settings: Settings) -> int:
    # By default by task id, then map index (the listing's unique key).
    listing = listing_from(args, TASK_INSTANCE_ORDER_KEYS, None)
    where = TaskInstanceFilter(
        dag_ids=[args.dag_id],
        run_ids=[args.run_id],
        task_display_name_pattern=name_pattern_from(args, "task_display_name"),
    )

    async def read() -> list[TaskInstanceRow] | None:
        async with open_settings_database(settings) as db:
            if await get_dag_run(db, args.dag_id, args.run_id) is None:
                return None
            return (await list_task_instances(db, where, listing)).items

    tis = anyio.run(read)
    if tis is None:
        return fail(f"DAG run {args.run_id!r} of DAG {args.dag_id!r} not found")
    print(render([ti_row(ti) for ti in tis], TI_COLUMNS, args.output))
    return 0


def task_state(args: argparse.Namespace, settings: Settings) -> int:
    async def read() -> tuple[str | None, int] | None:
        async with open_settings_database(settings) as db:
            return await task_instance_state(
                db, args.dag_id, args.run_id, args.task_id, args.map_index
            )

    found = anyio.run(read)
    if found is None:
        index = "" if args.map_index < 0 else f" (map index {args.map_index})"
        return fail(
            f"task instance {args.task_id!r}{index} of run {args.run_id!r} of DAG "
            f"{args.dag_id!r} not found"
        )
    print(found[0] or "None")  # a task instance not scheduled yet has no state
    return 0
