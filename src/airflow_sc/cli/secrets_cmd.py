"""`airflow-sc variables ...`, `airflow-sc connections ...` and `airflow-sc rotate-fernet-key`.

They read and write the metastore (encrypted with the Fernet key); output masks
passwords and sensitive variables unless `--reveal` is given. Files for import/export are
JSON, or YAML by extension (`.yaml`/`.yml`, needs PyYAML).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio

from airflow_sc.cli._database import open_settings_database
from airflow_sc.cli._listing import add_listing_options, listing_from, name_pattern_from
from airflow_sc.config import Settings
from airflow_sc.db.queries.secrets import CONNECTION_ORDER_KEYS, VARIABLE_ORDER_KEYS
from airflow_sc.secrets import Connection, SecretsCipher, SecretsMasker, load_or_create_fernet_key
from airflow_sc.secrets.errors import SecretsError
from airflow_sc.secrets.metastore import MetastoreBackend, RotationResult, rotate_fernet_key

T = TypeVar("T")


def register(commands: Any) -> None:
    variables = commands.add_parser("variables", help="manage variables in the metastore")
    sub = variables.add_subparsers(dest="variables_command", metavar="ACTION", required=True)
    get = sub.add_parser("get", help="print a variable's value")
    get.add_argument("key")
    get.add_argument("--json", action="store_true", help="print the value parsed as JSON")
    get.add_argument("--reveal", action="store_true", help="do not mask a sensitive value")
    get.set_defaults(handler=variables_get)
    set_ = sub.add_parser("set", help="create or replace a variable")
    set_.add_argument("key")
    set_.add_argument("value")
    set_.add_argument("--description")
    set_.add_argument("--json", action="store_true", help="the value is JSON; store it as such")
    set_.set_defaults(handler=variables_set)
    delete = sub.add_parser("delete", help="delete a variable")
    delete.add_argument("key")
    delete.set_defaults(handler=variables_delete)
    list_ = sub.add_parser("list", help="variables, by key (sensitive values masked)")
    list_.add_argument("--json", action="store_true")
    add_listing_options(
        list_, order_keys=VARIABLE_ORDER_KEYS, default_order="key", patterns=["variable_key"]
    )
    list_.set_defaults(handler=variables_list)
    imp = sub.add_parser("import", help="set variables from a JSON/YAML file {key: value}")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=variables_import)
    exp = sub.add_parser("export", help="write every variable to a JSON/YAML file")
    exp.add_argument("file", type=Path)
    exp.set_defaults(handler=variables_export)

    connections = commands.add_parser("connections", help="manage connections in the metastore")
    sub = connections.add_subparsers(dest="connections_command", metavar="ACTION", required=True)
    get = sub.add_parser("get", help="show a connection (password masked)")
    get.add_argument("conn_id")
    get.add_argument("--json", action="store_true")
    get.add_argument("--reveal", action="store_true", help="show the password and extras")
    get.set_defaults(handler=connections_get)
    add = sub.add_parser("add", help="add a connection from a URI, JSON or fields")
    add.add_argument("conn_id")
    add.add_argument("--conn-uri")
    add.add_argument("--conn-json")
    for name in ("type", "host", "login", "password", "schema", "description", "extra"):
        add.add_argument(f"--conn-{name}")
    add.add_argument("--conn-port", type=int)
    add.set_defaults(handler=connections_add)
    delete = sub.add_parser("delete", help="delete a connection")
    delete.add_argument("conn_id")
    delete.set_defaults(handler=connections_delete)
    list_ = sub.add_parser("list", help="connections, by id (passwords masked)")
    list_.add_argument("--json", action="store_true")
    add_listing_options(
        list_,
        order_keys=CONNECTION_ORDER_KEYS,
        default_order="conn_id",
        patterns=["connection_id"],
    )
    list_.set_defaults(handler=connections_list)
    imp = sub.add_parser("import", help="add connections from a JSON/YAML file {conn_id: {...}}")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=connections_import)
    exp = sub.add_parser("export", help="write every connection to a JSON/YAML file")
    exp.add_argument("file", type=Path)
    exp.set_defaults(handler=connections_export)

    rotate = commands.add_parser(
        "rotate-fernet-key",
        help="re-encrypt stored secrets with the first key of core.fernet_key",
    )
    rotate.set_defaults(handler=rotate_key)


@asynccontextmanager
async def _open_metastore(settings: Settings) -> AsyncIterator[MetastoreBackend]:
    key = await anyio.to_thread.run_sync(
        load_or_create_fernet_key, settings.core.home, settings.core.fernet_key
    )
    async with open_settings_database(settings) as db:
        yield MetastoreBackend(db, SecretsCipher(key))


def _run(settings: Settings, action: Callable[[MetastoreBackend], Awaitable[T]]) -> T:
    """Run `action` on the metastore; a secrets error (e.g. a wrong key) exits with 1."""

    async def main() -> T:
        async with _open_metastore(settings) as store:
            return await action(store)

    try:
        return anyio.run(main)
    except SecretsError as exc:
        raise SystemExit(_fail(str(exc))) from None


def _fail(message: str) -> int:
    print(f"airflow-sc: {message}", file=sys.stderr)
    return 1


def _load_file(path: Path) -> dict[str, Any]:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _dump_file(path: Path, data: dict[str, Any]) -> None:
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=True)
    else:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    path.chmod(0o600)


# -- variables ------------------------------------------------------------------------


def variables_get(args: argparse.Namespace, settings: Settings) -> int:
    value = _run(settings, lambda store: store.get_variable(args.key))
    if value is None:
        return _fail(f"variable {args.key!r} does not exist")
    if not args.reveal and SecretsMasker().is_sensitive_key(args.key):
        value = "***"
    print(json.dumps(json.loads(value), indent=2) if args.json and value != "***" else value)
    return 0


def variables_set(args: argparse.Namespace, settings: Settings) -> int:
    value = args.value
    if args.json:
        try:
            value = json.dumps(json.loads(value))
        except ValueError as exc:
            return _fail(f"--json given but the value is not JSON: {exc}")
    _run(settings, lambda store: store.set_variable(args.key, value, args.description))
    print(f"variable {args.key!r} set")
    return 0


def variables_delete(args: argparse.Namespace, settings: Settings) -> int:
    if not _run(settings, lambda store: store.delete_variable(args.key)):
        return _fail(f"variable {args.key!r} does not exist")
    print(f"variable {args.key!r} deleted")
    return 0


def variables_list(args: argparse.Namespace, settings: Settings) -> int:
    listing = listing_from(args, VARIABLE_ORDER_KEYS, "key")
    key = name_pattern_from(args, "variable_key")
    masker = SecretsMasker()
    variables = _run(settings, lambda store: store.list_variables(key, listing))
    rows = [
        {
            "key": v.key,
            "value": "***" if masker.is_sensitive_key(v.key) else v.value,
            "description": v.description,
        }
        for v in variables
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['key']}\t{row['value']}")
    return 0


def variables_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = _load_file(args.file)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))

    async def write(store: MetastoreBackend) -> None:
        for key, value in data.items():
            text = value if isinstance(value, str) else json.dumps(value)
            await store.set_variable(key, text)

    _run(settings, write)
    print(f"{len(data)} variables imported")
    return 0


def variables_export(args: argparse.Namespace, settings: Settings) -> int:
    variables = _run(settings, lambda store: store.list_variables())
    data: dict[str, Any] = {}
    for v in variables:
        try:
            data[v.key] = json.loads(v.value)
        except ValueError:
            data[v.key] = v.value
    _dump_file(args.file, data)
    print(f"{len(data)} variables exported to {args.file}")
    return 0


# -- connections ----------------------------------------------------------------------


def _shown(conn: Connection, reveal: bool) -> dict[str, Any]:
    fields = conn.to_dict()
    if reveal:
        return {"conn_id": conn.conn_id, **fields}
    masker = SecretsMasker()
    redacted: dict[str, Any] = masker.redact(fields)
    if conn.password:
        redacted["password"] = "***"
    return {"conn_id": conn.conn_id, **redacted}


def connections_get(args: argparse.Namespace, settings: Settings) -> int:
    conn = _run(settings, lambda store: store.get_connection(args.conn_id))
    if conn is None:
        return _fail(f"connection {args.conn_id!r} does not exist")
    shown = _shown(conn, args.reveal)
    if args.json:
        print(json.dumps(shown, indent=2))
    else:
        for key, value in shown.items():
            print(f"{key}: {'' if value is None else value}")
    return 0


def connections_add(args: argparse.Namespace, settings: Settings) -> int:
    fields = {
        name: getattr(args, f"conn_{name}")
        for name in ("type", "host", "login", "password", "schema", "description", "extra", "port")
        if getattr(args, f"conn_{name}") is not None
    }
    given = [bool(args.conn_uri), bool(args.conn_json), bool(fields)]
    if sum(given) != 1:
        return _fail("give exactly one of --conn-uri, --conn-json or --conn-<field> options")
    try:
        if args.conn_uri:
            conn = Connection.from_uri(args.conn_id, args.conn_uri)
        elif args.conn_json:
            conn = Connection.from_json(args.conn_json, args.conn_id)
        else:
            fields["conn_type"] = fields.pop("type", None)
            conn = Connection.from_dict(args.conn_id, fields)
    except (SecretsError, ValueError) as exc:
        return _fail(str(exc))
    _run(settings, lambda store: store.set_connection(conn))
    print(f"connection {args.conn_id!r} added")
    return 0


def connections_delete(args: argparse.Namespace, settings: Settings) -> int:
    if not _run(settings, lambda store: store.delete_connection(args.conn_id)):
        return _fail(f"connection {args.conn_id!r} does not exist")
    print(f"connection {args.conn_id!r} deleted")
    return 0


def connections_list(args: argparse.Namespace, settings: Settings) -> int:
    listing = listing_from(args, CONNECTION_ORDER_KEYS, "conn_id")
    conn_id = name_pattern_from(args, "connection_id")
    found = _run(settings, lambda store: store.list_connections(conn_id, listing))
    rows = [_shown(c, False) for c in found]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['conn_id']}\t{row.get('conn_type') or ''}\t{row.get('host') or ''}")
    return 0


def connections_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = _load_file(args.file)
        conns = [
            Connection.from_uri(conn_id, value)
            if isinstance(value, str)
            else Connection.from_dict(conn_id, value)
            for conn_id, value in data.items()
        ]
    except (OSError, ValueError, SecretsError) as exc:
        return _fail(str(exc))

    async def write(store: MetastoreBackend) -> None:
        for conn in conns:
            await store.set_connection(conn)

    _run(settings, write)
    print(f"{len(conns)} connections imported")
    return 0


def connections_export(args: argparse.Namespace, settings: Settings) -> int:
    conns = _run(settings, lambda store: store.list_connections())
    _dump_file(args.file, {c.conn_id: c.to_dict(prune_empty=True) for c in conns})
    print(f"{len(conns)} connections exported to {args.file}")
    return 0


def rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> RotationResult:
        key = await anyio.to_thread.run_sync(
            load_or_create_fernet_key, settings.core.home, settings.core.fernet_key
        )
        async with open_settings_database(settings) as db:
            return await rotate_fernet_key(db, SecretsCipher(key))

    try:
        result = anyio.run(main)
    except SecretsError as exc:
        return _fail(str(exc))
    print(
        f"re-encrypted {result.connections} connections and {result.variables} variables "
        "with the newest key"
    )
    return 0
