"""`airflow-sc tasks logs DAG_ID RUN_ID TASK_ID [--try N] [--map-index M] [--follow]`.

Prints the log file of one try (the task instance's latest try by default) from
`logging.base_log_folder`, where the workers of this host write it. With ``--follow`` it
keeps printing what the try writes until the try ends.
"""

from __future__ import annotations

import argparse
import codecs
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from airflow_sc.cli._arguments import fail
from airflow_sc.cli._database import open_settings_database
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.db.queries.api_task_instances import task_instance_state
from airflow_sc.task_runner.logs import try_log_path

__all__ = ["FOLLOW_INTERVAL", "register_logs"]

#: Seconds between looks at a followed log file (and the try's state) when nothing is new.
FOLLOW_INTERVAL = 0.2
#: States in which the task instance's current try may still write to its log.
_LIVE = frozenset({"queued", "running", "deferred", "restarting"})
_CHUNK = 1 << 20


def register_logs(actions: Any) -> None:
    """Add ``logs`` to the ``tasks`` group."""
    parser = actions.add_parser("logs", help="print the log of a task instance's try")
    parser.add_argument("dag_id", metavar="DAG_ID")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("task_id", metavar="TASK_ID")
    parser.add_argument("--try", dest="try_number", type=int, help="which try (default: latest)")
    parser.add_argument("-m", "--map-index", type=int, default=-1, help="of a mapped task")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing until the try ends"
    )
    parser.set_defaults(handler=task_logs)


class _NotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Try:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    number: int

    async def is_live(self, db: Database) -> bool:
        found = await task_instance_state(
            db, self.dag_id, self.run_id, self.task_id, self.map_index
        )
        return found is not None and found[1] == self.number and found[0] in _LIVE

    def path(self, base: Path) -> Path:
        return try_log_path(
            base,
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
            try_number=self.number,
            map_index=self.map_index,
        )


async def _choose_try(db: Database, args: argparse.Namespace) -> _Try:
    found = await task_instance_state(db, args.dag_id, args.run_id, args.task_id, args.map_index)
    if found is None:
        index = "" if args.map_index < 0 else f" (map index {args.map_index})"
        raise _NotFound(
            f"task instance {args.task_id!r}{index} of run {args.run_id!r} of DAG "
            f"{args.dag_id!r} not found"
        )
    latest = found[1]
    number = latest if args.try_number is None else args.try_number
    if latest < 1:
        raise _NotFound(f"task {args.task_id!r} has not run yet in run {args.run_id!r}")
    if not 1 <= number <= latest:
        raise _NotFound(f"no try {number} of task {args.task_id!r}: tries are 1 to {latest}")
    return _Try(args.dag_id, args.run_id, args.task_id, args.map_index, number)


async def _copy(path: Path, position: int, decoder: codecs.IncrementalDecoder) -> int:
    """Write what `path` holds after `position` to stdout; the new position."""
    try:
        async with await anyio.open_file(path, "rb") as file:
            await file.seek(position)
            while data := await file.read(_CHUNK):
                sys.stdout.write(decoder.decode(data))
                position += len(data)
    except FileNotFoundError:
        return position
    sys.stdout.flush()
    return position


def task_logs(args: argparse.Namespace, settings: Settings) -> int:
    async def show() -> int:
        async with open_settings_database(settings) as db:
            try:
                chosen = await _choose_try(db, args)
            except _NotFound as exc:
                return fail(str(exc))
            path = chosen.path(settings.base_log_folder)
            live = args.follow and await chosen.is_live(db)
            if not live and not await anyio.Path(path).exists():
                return fail(f"no log file for try {chosen.number}: {path} does not exist")
            # Incremental: a character split between two reads is decoded whole.
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            position = await _copy(path, 0, decoder)
            while live:
                await anyio.sleep(FOLLOW_INTERVAL)
                live = await chosen.is_live(db)
                # Read after the state check: what the try wrote before it ended is printed.
                position = await _copy(path, position, decoder)
            return 0

    return anyio.run(show)
