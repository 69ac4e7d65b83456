"""`airflow-sc config list|get`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from airflow_sc.config import Settings
from airflow_sc.db import DatabaseUrl


def register(commands: Any) -> None:
    parser = commands.add_parser("config", help="show the effective settings")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    list_parser = sub.add_parser("list", help="every setting as section.key = value")
    list_parser.set_defaults(handler=list_settings)
    get_parser = sub.add_parser("get", help="one setting's value")
    get_parser.add_argument("key", metavar="SECTION.KEY")
    get_parser.set_defaults(handler=get_setting)


#: Settings whose values are secrets: shown only as set or unset.
SECRET_KEYS = frozenset({"api.secret_key", "core.fernet_key", "secrets.backend_kwargs"})


def _display(key: str, value: object) -> str:
    if key in SECRET_KEYS:
        return "***" if value else ""
    if key == "database.url" and isinstance(value, str):
        return DatabaseUrl.parse(value).redacted()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def list_settings(args: argparse.Namespace, settings: Settings) -> int:
    for key, value in settings.items():
        print(f"{key} = {_display(key, value)}")
    return 0


def get_setting(args: argparse.Namespace, settings: Settings) -> int:
    values = dict(settings.items())
    if args.key not in values:
        print(
            f"airflow-sc: unknown setting {args.key!r}; see `airflow-sc config list`",
            file=sys.stderr,
        )
        return 1
    print(_display(args.key, values[args.key]))
    return 0
