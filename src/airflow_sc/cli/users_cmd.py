"""`airflow-sc users create|list|delete|reset-password`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

import anyio

from airflow_sc.auth import Role, UserError, create_user, delete_user, list_users, reset_password
from airflow_sc.cli._database import open_settings_database
from airflow_sc.cli._listing import add_listing_options, listing_from, name_pattern_from
from airflow_sc.cli._output import FORMATS, render
from airflow_sc.config import Settings
from airflow_sc.db.queries.users import USER_ORDER_KEYS


def register(commands: Any) -> None:
    parser = commands.add_parser("users", help="manage the users of the API and UI")
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    roles = [r.value for r in Role]

    create = sub.add_parser("create", help="add a user")
    create.add_argument("--username", "-u", required=True)
    create.add_argument("--role", "-r", required=True, choices=roles)
    create.add_argument("--password", "-p", help="prompted for (twice) when omitted")
    create.set_defaults(handler=create_cmd)

    listing = sub.add_parser("list", help="list users and their roles")
    listing.add_argument("--output", "-o", choices=FORMATS, default="table")
    add_listing_options(
        listing, order_keys=USER_ORDER_KEYS, default_order="username", patterns=["username"]
    )
    listing.set_defaults(handler=list_cmd)

    delete = sub.add_parser("delete", help="remove a user")
    delete.add_argument("--username", "-u", required=True)
    delete.set_defaults(handler=delete_cmd)

    reset = sub.add_parser("reset-password", help="set a user's password")
    reset.add_argument("--username", "-u", required=True)
    reset.add_argument("--password", "-p", help="prompted for (twice) when omitted")
    reset.set_defaults(handler=reset_cmd)


def _password(given: str | None) -> str | None:
    """`given`, or one typed twice at the terminal; None (after a message) on mismatch."""
    if given is not None:
        return given
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat for confirmation: "):
        print("airflow-sc: the passwords do not match", file=sys.stderr)
        return None
    return first


def _fail(exc: UserError) -> int:
    print(f"airflow-sc: {exc}", file=sys.stderr)
    return 1


def create_cmd(args: argparse.Namespace, settings: Settings) -> int:
    password = _password(args.password)
    if password is None:
        return 1

    async def run() -> None:
        async with open_settings_database(settings) as db:
            await create_user(db, args.username, password, Role(args.role))

    try:
        anyio.run(run)
    except UserError as exc:
        return _fail(exc)
    print(f"User {args.username!r} created with role {args.role}")
    return 0


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    listing = listing_from(args, USER_ORDER_KEYS, "username")
    username = name_pattern_from(args, "username")

    async def run() -> list[dict[str, Any]]:
        async with open_settings_database(settings) as db:
            return [
                {"username": u.username, "role": u.role.value, "created_at": u.created_at}
                for u in await list_users(db, username, listing)
            ]

    print(render(anyio.run(run), ["username", "role", "created_at"], args.output))
    return 0


def delete_cmd(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with open_settings_database(settings) as db:
            await delete_user(db, args.username)

    try:
        anyio.run(run)
    except UserError as exc:
        return _fail(exc)
    print(f"User {args.username!r} deleted")
    return 0


def reset_cmd(args: argparse.Namespace, settings: Settings) -> int:
    password = _password(args.password)
    if password is None:
        return 1

    async def run() -> None:
        async with open_settings_database(settings) as db:
            await reset_password(db, args.username, password)

    try:
        anyio.run(run)
    except UserError as exc:
        return _fail(exc)
    print(f"Password of {args.username!r} reset")
    return 0
