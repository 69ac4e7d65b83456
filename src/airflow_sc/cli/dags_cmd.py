"""`airflow-sc dags list|list-import-errors|show|reserialize` (and, registered here, `test`
and the run commands of `dags_runs_cmd`)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from operator import itemgetter
from pathlib import Path
from typing import Any

import anyio

from airflow_sc.cli import dags_compat, dags_runs_cmd, dags_test
from airflow_sc.cli._database import open_settings_database
from airflow_sc.cli._listing import add_listing_options, listing_from, name_pattern_from
from airflow_sc.cli._output import FORMATS, render
from airflow_sc.compat import install_airflow_compat
from airflow_sc.config import Settings
from airflow_sc.dag_processing.files import scan_folder
from airflow_sc.dag_processing.parser_pool import ParseResult, open_parser_pool
from airflow_sc.dag_processing.processor import DagProcessor, dag_folders
from airflow_sc.db import Transaction
from airflow_sc.db.queries import api_dags
from airflow_sc.db.queries.dags import latest_serialized
from airflow_sc.domain.listing import Listing, in_memory_order
from airflow_sc.serialization import DagSpec


def register(commands: Any) -> None:
    parser = commands.add_parser("dags", help="inspect and manage DAGs")
    sub = parser.add_subparsers(dest="dags_command", metavar="ACTION", required=True)

    list_parser = sub.add_parser("list", help="DAGs known to the metadata database")
    _add_output(list_parser)
    list_parser.add_argument(
        "--local",
        action="store_true",
        help="parse the DAG folders now instead of reading the database",
    )
    add_listing_options(
        list_parser,
        order_keys=api_dags.DAG_ORDER_KEYS,
        default_order="dag_id",
        patterns=["dag_id"],
    )
    list_parser.set_defaults(handler=list_dags)

    errors = sub.add_parser(
        "list-import-errors", help="files that failed to parse, with tracebacks"
    )
    _add_output(errors)
    errors.add_argument("--local", action="store_true", help="parse the DAG folders now")
    add_listing_options(
        errors,
        order_keys=api_dags.IMPORT_ERROR_ORDER_KEYS,
        default_order="filename",
        patterns=["filename"],
    )
    errors.set_defaults(handler=list_import_errors)

    show = sub.add_parser("show", help="a DAG's tasks as a text tree")
    show.add_argument("dag_id")
    show.set_defaults(handler=show_dag)

    reserialize = sub.add_parser(
        "reserialize", help="parse every DAG file now and store the results"
    )
    reserialize.set_defaults(handler=reserialize_dags)

    dags_test.register_test(sub)
    dags_compat.register_check_compat(sub)
    dags_runs_cmd.register_runs(sub)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default="table")


async def _parse_locally(settings: Settings) -> list[ParseResult]:
    install_airflow_compat(settings)  # the parsing processes read Airflow DAG files too
    config = settings.dag_processor
    results: list[ParseResult] = []
    async with open_parser_pool(
        config.parsing_processes,
        file_timeout=config.file_parse_timeout,
        max_memory=config.max_memory_mb * 1024 * 1024,
    ) as pool:
        for folder in dag_folders(settings):
            files = await anyio.to_thread.run_sync(scan_folder, folder)
            for path in sorted(files):
                results.append(await pool.parse(path, str(folder)))
    return results


def _in_memory(rows: list[dict[str, Any]], listing: Listing, unique: str) -> list[dict[str, Any]]:
    return in_memory_order(
        rows, listing, lambda row, key: row.get(key), tiebreak=itemgetter(unique)
    )


def list_dags(args: argparse.Namespace, settings: Settings) -> int:
    columns = ["dag_id", "fileloc", "owners", "is_paused"]
    listing = listing_from(args, api_dags.DAG_ORDER_KEYS, "dag_id")
    dag_id = name_pattern_from(args, "dag_id")
    if args.local:
        parsed = [
            {
                "dag_id": spec.dag_id,
                "fileloc": spec.fileloc,
                "owners": ", ".join(spec.owners),
                "is_paused": None,
            }
            for result in anyio.run(_parse_locally, settings)
            for spec in map(DagSpec.from_dict, result.dags)
        ]
        matching = [row for row in parsed if dag_id.matches(row["dag_id"])]
        rows = _in_memory(matching, listing, "dag_id")
        columns = columns[:3]
    else:

        async def read() -> list[api_dags.DagRow]:
            async with open_settings_database(settings) as db:
                page = await api_dags.list_dags(db, api_dags.DagFilter(dag_id=dag_id), listing)
                return page.items

        rows = [dataclasses.asdict(row) for row in anyio.run(read)]
    print(render(rows, columns, args.output))
    return 0


def list_import_errors(args: argparse.Namespace, settings: Settings) -> int:
    listing = listing_from(args, api_dags.IMPORT_ERROR_ORDER_KEYS, "filename")
    filename = name_pattern_from(args, "filename")
    if args.local:
        parsed = [
            {"filename": e.filename, "stacktrace": e.stacktrace}
            for result in anyio.run(_parse_locally, settings)
            for e in result.errors
        ]
        found = _in_memory(
            [e for e in parsed if filename.matches(e["filename"])], listing, "filename"
        )
    else:

        async def read() -> list[dict[str, Any]]:
            where = api_dags.ImportErrorFilter(filename=filename)
            async with open_settings_database(settings) as db:
                page = await api_dags.list_import_errors(db, where, listing)
            return [dataclasses.asdict(e) for e in page.items]

        found = anyio.run(read)
    rows = [{"filepath": e["filename"], "error": e["stacktrace"] or ""} for e in found]
    if args.output == "table":
        for row in rows:
            print(f"{row['filepath']}\n{row['error'].rstrip()}\n")
        if not rows:
            print("No import errors")
    else:
        print(render(rows, ["filepath", "error"], args.output))
    return 1 if rows else 0


def show_dag(args: argparse.Namespace, settings: Settings) -> int:
    async def read() -> dict[str, Any] | None:
        async with open_settings_database(settings) as db:

            async def body(tx: Transaction) -> dict[str, Any] | None:
                return await latest_serialized(tx, args.dag_id)

            return await db.run(body, write=False)

    data = anyio.run(read)
    if data is None:
        print(f"airflow-sc: DAG {args.dag_id!r} not found (has it been parsed?)", file=sys.stderr)
        return 1
    print(render_tree(DagSpec.from_dict(data)))
    return 0


def render_tree(spec: DagSpec) -> str:
    """The DAG as a tree from its roots; a task reached again is shown once, then referred to."""
    lines = [spec.dag_id]
    shown: set[str] = set()

    def walk(task_id: str, prefix: str, last: bool) -> None:
        task = spec.tasks[task_id]
        branch = "└── " if last else "├── "
        label = f"{task_id} ({task.operator})"
        if task_id in shown:
            lines.append(f"{prefix}{branch}{task_id} (see above)")
            return
        shown.add(task_id)
        lines.append(f"{prefix}{branch}{label}")
        children = sorted(task.downstream_task_ids)
        for i, child in enumerate(children):
            walk(child, prefix + ("    " if last else "│   "), i == len(children) - 1)

    roots = sorted(spec.roots)
    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    return "\n".join(lines)


def reserialize_dags(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> tuple[int, int, int]:
        install_airflow_compat(settings)  # the parsing processes read Airflow DAG files too
        config = settings.dag_processor
        async with (
            open_settings_database(settings) as db,
            open_parser_pool(
                config.parsing_processes,
                file_timeout=config.file_parse_timeout,
                max_memory=config.max_memory_mb * 1024 * 1024,
            ) as pool,
        ):
            processor = DagProcessor(
                db,
                pool,
                [Path(f) for f in dag_folders(settings)],
                paused_by_default=config.dags_are_paused_at_creation,
            )
            stats = await processor.refresh()
            return stats.files, stats.dags, stats.errors

    files, dags, errors = anyio.run(run)
    print(f"parsed {files} files: {dags} DAGs, {errors} import errors")
    return 1 if errors else 0
