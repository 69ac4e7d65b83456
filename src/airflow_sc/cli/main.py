"""`airflow-sc` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from airflow_sc import __version__
from airflow_sc.cli import (
    config_cmd,
    dags_cmd,
    db_cmd,
    run_cmd,
    secrets_cmd,
    tasks_cmd,
    users_cmd,
)
from airflow_sc.config import ConfigError, Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-sc",
        description="An Airflow-compatible workflow orchestrator on structured concurrency.",
    )
    parser.add_argument("--version", action="version", version=f"airflow-sc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_cmd.register(commands)
    config_cmd.register(commands)
    db_cmd.register(commands)
    dags_cmd.register(commands)
    tasks_cmd.register(commands)
    users_cmd.register(commands)
    secrets_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings(overrides=getattr(args, "overrides", None))
    except ConfigError as exc:
        print(f"airflow-sc: configuration error: {exc}", file=sys.stderr)
        return 2
    return handler(args, settings)
