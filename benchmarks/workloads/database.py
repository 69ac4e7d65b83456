"""The metadata database of a benchmark run: created fresh, read back, dropped.

SQLite: a file in the run's temporary AIRFLOW_SC_HOME (`airflow-sc run` creates and
migrates it). PostgreSQL: a throwaway database on the server named by
AIRFLOW_SC_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432), migrated here before the
server starts and dropped afterwards. The harness reads timestamps with its own
synchronous engine, outside the measured process tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text

from airflow_sc.db.models import dag_run, task_instance
from airflow_sc.db.schema import migrate_sync
from airflow_sc.db.url import DatabaseUrl
from airflow_sc.testing import postgres

from .figures import TaskTiming

__all__ = ["TERMINAL_RUN_STATES", "open_metadata", "postgres_unavailable"]

TERMINAL_RUN_STATES = ("success", "failed")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL runs cannot happen here, or None."""
    return postgres.unreachable_reason()


class Metadata:
    """Read access to one run's metadata database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = create_engine(DatabaseUrl.parse(url).sync_url, pool_size=1)

    def finished_runs(self) -> int:
        query = select(func.count()).where(dag_run.c.state.in_(TERMINAL_RUN_STATES))
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def commits(self) -> int | None:
        """Transactions committed in this database so far (PostgreSQL's statistics), or None.

        Backends report to the statistics at most once a second while busy, so a reading
        taken while the server runs may miss the last second's commits; one taken after
        the server stopped is complete.
        """
        if self._engine.dialect.name != "postgresql":
            return None
        query = text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def task_timings(self) -> list[TaskTiming]:
        ti = task_instance.c
        query = select(
            ti.dag_id, ti.run_id, ti.task_id, ti.state, ti.start_date, ti.end_date, ti.pid
        )
        with self._engine.connect() as connection:
            return [TaskTiming(*row) for row in connection.execute(query)]

    def close(self) -> None:
        self._engine.dispose()


@contextmanager
def open_metadata(database: str, home: Path) -> Iterator[Metadata]:
    """A fresh metadata database for `database` (`sqlite` or `postgres`)."""
    if database == "sqlite":
        metadata = Metadata(f"sqlite:///{home / 'airflow-sc.db'}")
        try:
            yield metadata
        finally:
            metadata.close()
        return
    with postgres.throwaway_database("airflow_sc_bench") as url:
        migrate_sync(url)
        metadata = Metadata(url)
        try:
            yield metadata
        finally:
            metadata.close()
