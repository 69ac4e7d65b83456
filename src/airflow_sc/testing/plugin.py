"""pytest plugin: both anyio backends, real SQLite and PostgreSQL databases.

Environment:
- `AIRFLOW_SC_TEST_BACKENDS`: comma-separated subset of `asyncio,trio` (default both).
- `AIRFLOW_SC_TEST_DATABASES`: comma-separated subset of `sqlite,postgres` (default both).
- `AIRFLOW_SC_TEST_POSTGRES_URL`: server for throwaway databases
  (default `postgresql://postgres@127.0.0.1:5432/postgres`).
- `AIRFLOW_SC_TEST_REQUIRE_POSTGRES=1`: fail instead of skipping when PostgreSQL is unreachable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_sc.testing import postgres

BACKENDS = ("asyncio", "trio")
DATABASES = ("sqlite", "postgres")


def _selected(env: str, allowed: tuple[str, ...]) -> list[str]:
    raw = os.environ.get(env, "")
    chosen = [v.strip() for v in raw.split(",") if v.strip()] or list(allowed)
    unknown = set(chosen) - set(allowed)
    if unknown:
        raise pytest.UsageError(f"{env}: unknown value(s) {sorted(unknown)}; allowed {allowed}")
    return chosen


@pytest.fixture(params=_selected("AIRFLOW_SC_TEST_BACKENDS", BACKENDS))
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every `@pytest.mark.anyio` test runs once per selected backend."""
    return str(request.param)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'airflow-sc.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server, or a skip with the reason."""
    reason = postgres.unreachable_reason()
    if reason is not None:
        if postgres.postgres_required():
            pytest.fail(f"{postgres.REQUIRE_ENV} is set but {reason}", pytrace=False)
        pytest.skip(reason)
    return postgres.admin_url()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for the whole test session (dropped afterwards)."""
    with postgres.throwaway_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for one test (slower; for schema-changing tests)."""
    with postgres.throwaway_database() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param(d, marks=_marks)
        for d, _marks in (
            ("sqlite", ()),
            ("postgres", (pytest.mark.postgres,)),
        )
        if d in _selected("AIRFLOW_SC_TEST_DATABASES", DATABASES)
    ]
)
def database_kind(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgres`: request this (or `empty_database_url`) to cover both databases."""
    return str(request.param)


@pytest.fixture
def empty_database_url(database_kind: str, request: pytest.FixtureRequest) -> str:
    """An empty database of the parametrized kind, private to one test."""
    if database_kind == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("fresh_postgres_url"))


# -- migrated databases (implementation: airflow_sc.testing.databases) ------------------

if TYPE_CHECKING:
    from airflow_sc.testing.databases import MigratedPostgres


@pytest.fixture(scope="session")
def sqlite_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per session; tests get copies of it."""
    from airflow_sc.testing import databases

    return databases.migrate_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture
def sqlite_database_url(sqlite_database_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database (only `default_pool`), private to one test."""
    from airflow_sc.testing import databases

    return databases.copy_sqlite_template(sqlite_database_template, tmp_path)


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> MigratedPostgres:
    """The session PostgreSQL database, migrated once."""
    from airflow_sc.testing import databases

    return databases.MigratedPostgres.migrate(postgres_url)


@pytest.fixture
def postgres_database_url(migrated_postgres: MigratedPostgres) -> str:
    """The migrated session PostgreSQL database, emptied (but for `default_pool`) for one test."""
    migrated_postgres.restore()
    return migrated_postgres.url


@pytest.fixture
def database_url(database_kind: str, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of the parametrized kind (SQLite and PostgreSQL)."""
    if database_kind == "sqlite":
        return str(request.getfixturevalue("sqlite_database_url"))
    return str(request.getfixturevalue("postgres_database_url"))
