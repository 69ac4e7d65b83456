"""Migrated, empty metadata databases for tests, made cheap to hand out one per test.

- SQLite: migrate a template file once per session; each test gets a copy.
- PostgreSQL: migrate the session database once and remember the rows the migrations
  seeded (`default_pool`); before each test, TRUNCATE every airflow-sc table and put
  those rows back.

Everything here is blocking: fixtures call it outside any event loop.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from airflow_sc.db.models import metadata
from airflow_sc.db.schema import VERSION_TABLE, head_revision, migrate_sync
from airflow_sc.db.url import DatabaseUrl

__all__ = ["MigratedPostgres", "copy_sqlite_template", "migrate_sqlite_template"]

SeedRows = Mapping[str, list[dict[str, Any]]]


def migrate_sqlite_template(directory: Path) -> Path:
    """Create a migrated SQLite file in `directory` to copy from."""
    path = directory / "template.db"
    migrate_sync(f"sqlite:///{path}")
    return path


def copy_sqlite_template(template: Path, directory: Path) -> str:
    """Copy the template into `directory` and return the copy's URL."""
    target = directory / "metadata.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@dataclass(frozen=True)
class MigratedPostgres:
    """A migrated PostgreSQL database and the rows its migrations seeded.

    Tests may change rows (alembic_version included) but not the schema: a test that
    drops or alters tables needs its own database (`fresh_postgres_url`).
    """

    url: str
    seed: SeedRows
    revision: str

    @classmethod
    def migrate(cls, url: str) -> MigratedPostgres:
        migrate_sync(url)
        with _connect(url) as connection:
            # Whatever the database holds right after migrating is seed data, as long as
            # no test has written yet (the fixture calls this once, first).
            return cls(url, _read_rows(connection), head_revision())

    def restore(self) -> None:
        """Empty every airflow-sc table and re-insert the seed rows."""
        with _connect(self.url) as connection:
            quote = connection.dialect.identifier_preparer.quote
            names = ", ".join(quote(table.name) for table in metadata.sorted_tables)
            connection.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
            # A test may have stamped another revision to see how airflow-sc reacts.
            connection.exec_driver_sql(f"DELETE FROM {VERSION_TABLE}")
            connection.exec_driver_sql(
                f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (%(revision)s)",
                {"revision": self.revision},
            )
            for table in metadata.sorted_tables:
                rows = self.seed.get(table.name)
                if rows:
                    connection.execute(table.insert(), rows)


def _read_rows(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    seed: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        # Serial ids are left out: after RESTART IDENTITY they come out as migrating gave.
        serial = table.autoincrement_column
        columns = [column for column in table.columns if column is not serial]
        order = [serial] if serial is not None else list(table.primary_key)
        rows = connection.execute(table.select().with_only_columns(*columns).order_by(*order))
        if found := [dict(row._mapping) for row in rows]:
            seed[table.name] = found
    return seed


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    engine = create_engine(DatabaseUrl.parse(url).sync_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()
