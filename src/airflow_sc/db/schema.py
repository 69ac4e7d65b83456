"""Create, upgrade, inspect and reset the metadata schema (`airflow-sc db ...`).

Alembic runs on a synchronous engine (sqlite3 or psycopg 3) in a worker thread, so these
functions work under asyncio and trio alike. Each `*_sync` function is the blocking
version, for fixtures and scripts that have no event loop.

A migration in progress is not abandoned when the caller is cancelled: the cancellation
takes effect once the migration's transaction has committed or rolled back.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from airflow_sc.db.models import metadata
from airflow_sc.db.url import DatabaseUrl

__all__ = [
    "MIGRATIONS_DIRECTORY",
    "MIGRATION_LOCK_KEY",
    "VERSION_TABLE",
    "SchemaError",
    "SchemaState",
    "SchemaStatus",
    "downgrade",
    "downgrade_sync",
    "ensure_schema_for_run",
    "ensure_schema_for_run_sync",
    "head_revision",
    "inspect_schema",
    "inspect_schema_sync",
    "migrate",
    "migrate_sync",
    "reset",
    "reset_sync",
]

MIGRATIONS_DIRECTORY = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
#: PostgreSQL advisory lock held by schema changes, so that processes migrating the same
#: database at once take turns (the second finds the work done).
MIGRATION_LOCK_KEY = 0x6169_7266_6C6F_7701

# Alembic installs `alembic.context` and `alembic.op` as process-wide proxies: two
# migrations in two threads of one process must not interleave.
_alembic_lock = threading.Lock()

SchemaState = Literal["empty", "up_to_date", "behind", "ahead"]


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands relative to this airflow-sc."""

    #: The database's revision; None when it records none.
    current: str | None
    #: The revision this airflow-sc's models correspond to.
    head: str
    #: `empty`: never migrated; `behind`: `db migrate` will upgrade it; `ahead`: migrated
    #: by a newer airflow-sc (its revision is unknown here).
    state: SchemaState
    #: Differences between the models and the database (filled for `up_to_date` only).
    drift: list[str] = field(default_factory=list)


class SchemaError(Exception):
    """The database's schema does not match this airflow-sc; the message says what to run."""

    def __init__(self, message: str, status: SchemaStatus) -> None:
        super().__init__(message)
        self.status = status


# -- async API -------------------------------------------------------------------------


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (creating it in an empty database)."""
    await anyio.to_thread.run_sync(migrate_sync, url, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    """Downgrade the schema to `revision`; `base` drops every airflow-sc table."""
    await anyio.to_thread.run_sync(downgrade_sync, url, revision)


async def reset(url: str) -> None:
    """Drop the airflow-sc tables (data included) and alembic_version, then migrate."""
    await anyio.to_thread.run_sync(reset_sync, url)


async def inspect_schema(url: str) -> SchemaStatus:
    """Compare the database's revision (and, when current, its tables) with the models."""
    return await anyio.to_thread.run_sync(inspect_schema_sync, url)


async def ensure_schema_for_run(url: str) -> SchemaStatus:
    """Make sure `airflow-sc run` may use this database, or raise `SchemaError`.

    A fresh embedded SQLite database (no file, or a file without tables) is migrated on
    the spot; anything else must already be at this airflow-sc's revision.
    """
    return await anyio.to_thread.run_sync(ensure_schema_for_run_sync, url)


# -- blocking implementations ----------------------------------------------------------


def head_revision() -> str:
    head = _script_directory().get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIRECTORY}")
    return head


def migrate_sync(url: str, revision: str = "head") -> None:
    database = DatabaseUrl.parse(url)
    _create_sqlite_parent(database)
    with _connect(database, write=True) as connection, _alembic_lock:
        command.upgrade(_alembic_config(connection), revision)


def downgrade_sync(url: str, revision: str = "base") -> None:
    with _connect(DatabaseUrl.parse(url), write=True) as connection, _alembic_lock:
        command.downgrade(_alembic_config(connection), revision)


def reset_sync(url: str) -> None:
    database = DatabaseUrl.parse(url)
    _create_sqlite_parent(database)
    # One transaction: on failure the old schema and its data are still there.
    with _connect(database, write=True) as connection, _alembic_lock:
        _drop_tables(connection)
        command.upgrade(_alembic_config(connection), "head")


def inspect_schema_sync(url: str) -> SchemaStatus:
    return _observe(DatabaseUrl.parse(url), with_drift=True).status


def ensure_schema_for_run_sync(url: str) -> SchemaStatus:
    database = DatabaseUrl.parse(url)
    _create_sqlite_parent(database)  # and an existing file made private
    observed = _observe(database, with_drift=False)
    if database.dialect == "sqlite" and observed.is_fresh:
        migrate_sync(url)
        observed = _observe(database, with_drift=False)
    if observed.status.state == "up_to_date":
        return observed.status
    raise SchemaError(_refusal(database, observed.status), observed.status)


# -- internals -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Observation:
    status: SchemaStatus
    #: No table at all (not even alembic_version): safe to create the schema unasked.
    is_fresh: bool


def _observe(database: DatabaseUrl, *, with_drift: bool) -> _Observation:
    path = database.sqlite_path
    if path is not None and not Path(path).exists():
        # Do not let a mere inspection create the file.
        return _Observation(SchemaStatus(None, head_revision(), "empty"), is_fresh=True)
    with _connect(database, write=False) as connection:
        tables = set(inspect(connection).get_table_names())
        heads = MigrationContext.configure(connection).get_current_heads()
        status = _status(heads, has_version_table=VERSION_TABLE in tables)
        if with_drift and status.state == "up_to_date":
            status = SchemaStatus(status.current, status.head, status.state, _drift(connection))
    return _Observation(status, is_fresh=not tables)


def _status(heads: tuple[str, ...], *, has_version_table: bool) -> SchemaStatus:
    head = head_revision()
    current = ",".join(heads) if heads else None
    known = {script.revision for script in _script_directory().walk_revisions()}
    state: SchemaState
    if not heads:
        # alembic_version without a row: downgraded or stamped to base.
        state = "behind" if has_version_table else "empty"
    elif not set(heads) <= known:
        state = "ahead"
    elif heads == (head,):
        state = "up_to_date"
    else:
        state = "behind"
    return SchemaStatus(current, head, state)


def _drift(connection: Connection) -> list[str]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [_describe(diff) for diff in compare_metadata(context, metadata)]


def _describe(diff: Any) -> str:
    """One line per alembic difference, from the database's point of view."""
    if isinstance(diff, list):  # alembic groups a column's modify_* tuples in a list
        return "; ".join(_describe(part) for part in diff)
    operation, *rest = diff
    action, _, kind = operation.partition("_")
    if action == "modify":
        _schema, table, column, _info, in_database, in_models = rest
        return (
            f"column {table}.{column}: {kind} is {in_database} in the database, "
            f"{in_models} in the models"
        )
    if kind == "column":
        _schema, table, column = rest
        subject = f"column {table}.{column.name}"
    else:
        item = rest[0]
        owner = getattr(item, "table", None)
        prefix = f"{owner.name}." if kind != "table" and owner is not None else ""
        subject = f"{kind} {prefix}{item.name}"
    if action == "add":
        return f"{subject}: missing from the database"
    return f"{subject}: in the database but not in the models"


def _refusal(database: DatabaseUrl, status: SchemaStatus) -> str:
    where = database.redacted()
    if status.state == "ahead":
        return (
            f"the metadata database {where} is at revision {status.current}, which this "
            f"airflow-sc does not know (it expects {status.head}): the database was migrated "
            "by a newer airflow-sc; upgrade airflow-sc to use it"
        )
    if status.state == "empty":
        return (
            f"the metadata database {where} has no airflow-sc schema (current revision: "
            f"none, expected {status.head}); run `airflow-sc db migrate` to create it"
        )
    return (
        f"the metadata database {where} is at revision {status.current or 'base'} but this "
        f"airflow-sc expects {status.head}; run `airflow-sc db migrate` to upgrade it"
    )


def _drop_tables(connection: Connection) -> None:
    existing = inspect(connection).get_table_names()
    if connection.dialect.name == "sqlite":
        # The file belongs to airflow-sc; foreign keys are off on this connection.
        doomed = existing
    else:
        # A PostgreSQL database may be shared: drop only what airflow-sc owns. CASCADE
        # removes foreign keys that tables of a newer schema hold on these.
        owned = {*metadata.tables, VERSION_TABLE}
        doomed = [name for name in existing if name in owned]
    quote = connection.dialect.identifier_preparer.quote
    cascade = "" if connection.dialect.name == "sqlite" else " CASCADE"
    for name in doomed:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}{cascade}")


@functools.cache
def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config(None))


def _alembic_config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _create_sqlite_parent(database: DatabaseUrl) -> None:
    """The SQLite file's folder, and the file itself readable by its owner only (0600;
    SQLite gives its -wal and -shm files the database file's mode)."""
    if database.sqlite_path is None:
        return
    path = Path(database.sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            file.chmod(0o600)


@contextmanager
def _connect(database: DatabaseUrl, *, write: bool) -> Iterator[Connection]:
    """One connection in one transaction, committed when the block ends normally.

    `write=True` first takes the database-wide migration lock: SQLite's write lock
    (`BEGIN IMMEDIATE`) or a transaction-scoped advisory lock on PostgreSQL.
    """
    engine = create_engine(database.sync_url, poolclass=NullPool)
    if database.dialect == "sqlite":
        _make_sqlite_ddl_transactional(engine, begin="BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        with engine.begin() as connection:
            if write and database.dialect == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            yield connection
    finally:
        engine.dispose()


def _make_sqlite_ddl_transactional(engine: Engine, *, begin: str) -> None:
    """Let SQLite roll back DDL: by default Python's sqlite3 commits around it.

    Foreign keys stay off (SQLite's default): table rebuilds in batch migrations would
    otherwise cascade deletes into child tables.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)
