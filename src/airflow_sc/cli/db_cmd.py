"""`airflow-sc db migrate|check|reset`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from airflow_sc.config import Settings
from airflow_sc.db import DatabaseUrl, schema


def register(commands: Any) -> None:
    parser = commands.add_parser("db", help="manage the metadata database schema")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = sub.add_parser(
        "migrate", help="upgrade the schema (to the latest revision by default)"
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(handler=migrate_db)
    check = sub.add_parser("check", help="exit 0 when the schema is current and matches the models")
    check.set_defaults(handler=check_db)
    reset = sub.add_parser("reset", help="drop every table and migrate again (all data is lost)")
    reset.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(handler=reset_db)


def migrate_db(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    anyio.run(schema.migrate, url, args.revision)
    status = anyio.run(schema.inspect_schema, url)
    print(f"{DatabaseUrl.parse(url).redacted()}: at revision {status.current} ({status.state})")
    return 0


def check_db(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    status = anyio.run(schema.inspect_schema, url)
    where = DatabaseUrl.parse(url).redacted()
    if status.state != "up_to_date":
        print(
            f"{where}: schema is {status.state} (database revision {status.current}, "
            f"this airflow-sc needs {status.head})",
            file=sys.stderr,
        )
        return 1
    if status.drift:
        print(f"{where}: schema differs from the models:", file=sys.stderr)
        for line in status.drift:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{where}: up to date at revision {status.head}")
    return 0


def reset_db(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    where = DatabaseUrl.parse(url).redacted()
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "airflow-sc: refusing to reset without --yes (no terminal to confirm on)",
                file=sys.stderr,
            )
            return 1
        answer = input(f"Drop every table in {where} and recreate the schema? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("aborted")
            return 1
    anyio.run(schema.reset, url)
    print(f"{where}: reset to revision {anyio.run(schema.inspect_schema, url).current}")
    return 0
