"""`airflow-sc tasks clear DAG_ID [-t REGEX] [-f] [-d] [-u] [-s DATE] [-e DATE] [-y] [--dry-run]`.

Clears task instances so the scheduler runs them again (`actions.clear_task_instances`).
Without ``--yes`` the command lists what it would clear and asks first; ``--dry-run`` only
lists. Runs are chosen by their logical date (their run-after date when they have none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import anyio

from airflow_sc.actions import ActionError, ClearedTaskInstance, DagNotFound, clear_task_instances
from airflow_sc.cli._arguments import UsageError, fail, parse_datetime, utcnow
from airflow_sc.cli._database import latest_spec, open_settings_database
from airflow_sc.cli._output import render
from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.db.queries.api_runs import DagRunFilter, list_dag_runs
from airflow_sc.domain.listing import Listing
from airflow_sc.scheduler.changes import Change
from airflow_sc.scheduler.changes.local_socket import wake_scheduler

__all__ = ["ClearRequest", "register_clear"]

_COLUMNS = ["run_id", "task_id", "map_index", "state"]
#: More runs than a DAG plausibly has between two dates.
_MAX_RUNS = 100_000


def register_clear(actions: Any) -> None:
    """Add ``clear`` to the ``tasks`` group."""
    parser = actions.add_parser("clear", help="clear task instances so they run again")
    parser.add_argument("dag_id", metavar="DAG_ID")
    parser.add_argument("-t", "--task-regex", help="only tasks whose id matches this regex")
    parser.add_argument("-s", "--start-date", help="only runs with a logical date at or after")
    parser.add_argument("-e", "--end-date", help="only runs with a logical date at or before")
    parser.add_argument(
        "-f", "--only-failed", action="store_true", help="only failed and upstream_failed ones"
    )
    parser.add_argument(
        "-d", "--downstream", action="store_true", help="also the chosen tasks' downstream"
    )
    parser.add_argument(
        "-u", "--upstream", action="store_true", help="also the chosen tasks' upstream"
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be cleared, change nothing"
    )
    parser.set_defaults(handler=clear_tasks)


@dataclass(frozen=True, slots=True)
class ClearRequest:
    dag_id: str
    task_regex: re.Pattern[str] | None
    start: dt.datetime | None
    end: dt.datetime | None
    only_failed: bool
    downstream: bool
    upstream: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace, settings: Settings) -> ClearRequest:
        try:
            regex = None if args.task_regex is None else re.compile(args.task_regex)
        except re.error as exc:
            raise UsageError(f"--task-regex {args.task_regex!r} is not a regex: {exc}") from None
        return cls(
            dag_id=args.dag_id,
            task_regex=regex,
            start=parse_datetime(args.start_date, settings, name="--start-date"),
            end=parse_datetime(args.end_date, settings, name="--end-date"),
            only_failed=args.only_failed,
            downstream=args.downstream,
            upstream=args.upstream,
        )

    async def clear(
        self, db: Database, *, dry_run: bool
    ) -> tuple[list[ClearedTaskInstance], list[int]]:
        """Clear (or, with `dry_run`, list) the chosen task instances.

        Returns them and the primary keys of the runs changed (none on a dry run).
        """
        task_ids = None
        if self.task_regex is not None:
            spec = await latest_spec(db, self.dag_id)
            if spec is None:
                raise DagNotFound(self.dag_id)
            task_ids = [t for t in spec.tasks if self.task_regex.search(t)]
        run_ids = None
        if self.start is not None or self.end is not None:
            where = DagRunFilter(dag_ids=[self.dag_id])
            page = await list_dag_runs(db, where, Listing(limit=_MAX_RUNS))
            run_ids = [
                r.run_id for r in page.items if self._in_range(r.logical_date or r.run_after)
            ]
        if task_ids == [] or run_ids == []:
            return [], []
        changed: list[int] = []
        cleared = await clear_task_instances(
            db,
            self.dag_id,
            now=utcnow(),
            run_ids=run_ids,
            task_ids=task_ids,
            include_downstream=self.downstream,
            include_upstream=self.upstream,
            only_failed=self.only_failed,
            dry_run=dry_run,
            wake=changed.extend,
        )
        return cleared, changed

    def _in_range(self, when: dt.datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)


def _run_clear(
    request: ClearRequest, settings: Settings, *, dry_run: bool
) -> list[ClearedTaskInstance]:
    async def run() -> list[ClearedTaskInstance]:
        async with open_settings_database(settings) as db:
            cleared, changed = await request.clear(db, dry_run=dry_run)
            if changed:
                await wake_scheduler(db, settings.core.home, [Change.RUNS_CHANGED], changed)
            return cleared

    return anyio.run(run)


def _table(cleared: list[ClearedTaskInstance]) -> str:
    rows = [
        {"run_id": c.run_id, "task_id": c.task_id, "map_index": c.map_index, "state": c.state}
        for c in cleared
    ]
    return render(rows, _COLUMNS, "table")


def clear_tasks(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = ClearRequest.from_args(args, settings)
    except UsageError as exc:
        return fail(str(exc), 2)
    try:
        if args.dry_run or not args.yes:
            chosen = _run_clear(request, settings, dry_run=True)
            if not chosen:
                print("No task instances to clear")
                return 0
            print(f"These {len(chosen)} task instances would be cleared:")
            print(_table(chosen))
            if args.dry_run:
                return 0
            if not _confirmed():
                print("Cancelled, nothing was cleared.")
                return 0
        cleared = _run_clear(request, settings, dry_run=False)
    except ActionError as exc:
        return fail(str(exc))
    print(f"Cleared {len(cleared)} task instances")
    return 0


def _confirmed() -> bool:
    try:
        answer = input("Are you sure? [y/n] ")
    except EOFError:  # no terminal, nothing piped in: a no
        print()
        return False
    return answer.strip().lower() in ("y", "yes")
