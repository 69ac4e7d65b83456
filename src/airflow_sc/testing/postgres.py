"""Throwaway PostgreSQL databases for tests (the server is real; nothing is mocked)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_URL_ENV = "AIRFLOW_SC_TEST_POSTGRES_URL"
REQUIRE_ENV = "AIRFLOW_SC_TEST_REQUIRE_POSTGRES"


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def unreachable_reason() -> str | None:
    """Why the test PostgreSQL server cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'airflow-sc[postgres]')"
    try:
        with psycopg.connect(_libpq_url(admin_url()), connect_timeout=3, autocommit=True):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {admin_url()} is unreachable: {str(exc).strip()}"


@contextmanager
def throwaway_database(prefix: str = "airflow_sc_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it (with FORCE) afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _libpq_url(admin_url())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
