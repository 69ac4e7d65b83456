"""`airflow-sc tasks test DAG_ID TASK_ID [LOGICAL_DATE] [--dags-folder PATH]`.

Runs one try of one task in this process, whatever its upstream tasks did, and records
nothing: no database, no scheduler (Airflow's ``tasks test``). The DAG files are imported
here so that a debugger or a print in task code works; the task's output and log go to
this terminal. Variables and connections come from the environment as for ``dags test``;
XComs pulled from upstream tasks are empty. Exit code 0 when the try succeeded (or
skipped), 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from airflow_sc.cli._arguments import UsageError, fail, parse_datetime, utcnow
from airflow_sc.cli.dags_test import EnvironmentNames
from airflow_sc.compat import install_airflow_compat
from airflow_sc.config import Settings
from airflow_sc.dag_processing.processor import dag_folders
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.observability.logging import FORMAT
from airflow_sc.scheduler.dag_test import manual_run_info
from airflow_sc.secrets.environment import CONNECTION_PREFIXES, VARIABLE_PREFIXES
from airflow_sc.task_runner.dag_files import DagFiles, load_dag_files
from airflow_sc.task_runner.execute import arun_task, run_task
from airflow_sc.task_runner.memory_client import InMemoryTaskClient
from airflow_sc.task_runner.outcome import TaskOutcome

__all__ = ["register_test"]

_OK = frozenset({TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED})
_REPR_LIMIT = 200


def register_test(actions: Any) -> None:
    """Add ``test`` to the ``tasks`` group."""
    parser = actions.add_parser(
        "test", help="run one task in this process without recording state (for debugging)"
    )
    parser.add_argument("dag_id", metavar="DAG_ID")
    parser.add_argument("task_id", metavar="TASK_ID")
    parser.add_argument(
        "logical_date",
        metavar="LOGICAL_DATE",
        nargs="?",
        help="ISO date or datetime of the run (default: now); naive means core.default_timezone",
    )
    parser.add_argument(
        "--dags-folder",
        type=Path,
        help="folder (or file) to load DAGs from (default: core.dags_folder, and the "
        "examples when core.load_examples)",
    )
    parser.set_defaults(handler=tasks_test)


def _load(folders: list[Path]) -> DagFiles:
    found = DagFiles()
    for folder in folders:
        if folder.exists():
            loaded = load_dag_files(folder)
            found.dags.update(loaded.dags)
            found.paths.update(loaded.paths)
            found.errors.update(loaded.errors)
    return found


def _summary(task_id: str, outcome: TaskOutcome) -> str:
    line = f"Task {task_id!r}: {outcome.state.value} ({outcome.duration:.2f}s)"
    if outcome.state is TaskInstanceState.SUCCESS and outcome.return_value is not None:
        text = repr(outcome.return_value)
        if len(text) > _REPR_LIMIT:
            text = text[: _REPR_LIMIT - 3] + "..."
        line += f" -> {text}"
    if outcome.state is TaskInstanceState.DEFERRED and outcome.deferral is not None:
        line += f": deferred to {outcome.deferral.trigger!r}; tasks test does not run triggers"
    return line


def tasks_test(args: argparse.Namespace, settings: Settings) -> int:
    try:
        logical_date = parse_datetime(args.logical_date, settings, name="LOGICAL_DATE")
    except UsageError as exc:
        return fail(str(exc), 2)
    folders = [args.dags_folder] if args.dags_folder else dag_folders(settings)
    # Only when nothing configured logging yet (a test runner, an embedding program).
    logging.basicConfig(level=settings.logging.level, format=FORMAT, stream=sys.stderr)
    install_airflow_compat(settings)
    found = _load(folders)
    dag = found.dags.get(args.dag_id)
    if dag is None:
        errors = "".join(f"\n  {path}: failed to load" for path in found.errors)
        return fail(f"DAG {args.dag_id!r} not found in {', '.join(map(str, folders))}{errors}")
    task = dag.task_dict.get(args.task_id)
    if task is None:
        return fail(f"DAG {dag.dag_id!r} has no task {args.task_id!r}")
    run = manual_run_info(dag, logical_date=logical_date, now=utcnow())
    client = InMemoryTaskClient(
        dag_id=dag.dag_id,
        run_id=run.run_id,
        variables=EnvironmentNames(os.environ, VARIABLE_PREFIXES),
        connections=EnvironmentNames(os.environ, CONNECTION_PREFIXES),
    ).for_task(task.task_id)
    print(f"Testing task {task.task_id!r} of DAG {dag.dag_id!r}, run {run.run_id}", flush=True)
    common: dict[str, Any] = {
        "dag": dag,
        "run": run,
        "try_number": 1,
        "client": client,
        "log": task.log,
        # One try: a failure is reported as failed, not as up for retry.
        "max_tries": 0,
    }
    if task.is_async:
        outcome = anyio.run(partial(arun_task, task, **common))
    else:
        outcome = run_task(task, **common)
    if outcome.error and outcome.state not in _OK:
        print(outcome.error.rstrip(), file=sys.stderr)
    print(_summary(task.task_id, outcome))
    return 0 if outcome.state in _OK else 1
