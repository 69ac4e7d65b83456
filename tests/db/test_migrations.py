"""The Alembic migrations build exactly the models' schema, both ways, on both databases."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from sqlalchemy import create_engine, insert, inspect, select, update
from sqlalchemy.pool import NullPool

from airflow_sc.db import schema
from airflow_sc.db.models import (
    DEFAULT_POOL_NAME,
    DEFAULT_POOL_SLOTS,
    dag_run,
    metadata,
    slot_pool,
    task_instance,
    variable,
)
from airflow_sc.db.url import DatabaseUrl
from airflow_sc.testing.databases import MigratedPostgres


def table_names(url: str) -> set[str]:
    engine = create_engine(DatabaseUrl.parse(url).sync_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_empty_database_upgrades_to_head_and_downgrades_to_base(
    empty_database_url: str,
) -> None:
    await schema.migrate(empty_database_url)
    assert table_names(empty_database_url) == {*metadata.tables, schema.VERSION_TABLE}

    await schema.downgrade(empty_database_url)
    assert table_names(empty_database_url) == {schema.VERSION_TABLE}

    # And back up again: downgrade left nothing in the way.
    await schema.migrate(empty_database_url)
    status = await schema.inspect_schema(empty_database_url)
    assert status.state == "up_to_date"


@pytest.mark.anyio
async def test_migrations_started_together_take_turns(empty_database_url: str) -> None:
    # Each call runs in its own worker thread; without the migration lock the later ones
    # would try to create tables that already exist.
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(schema.migrate, empty_database_url)

    assert (await schema.inspect_schema(empty_database_url)).state == "up_to_date"


def test_migrated_database_matches_the_models(empty_database_url: str) -> None:
    schema.migrate_sync(empty_database_url)

    status = schema.inspect_schema_sync(empty_database_url)

    assert status.state == "up_to_date"
    assert status.drift == []


def test_drift_names_what_differs(sqlite_database_url: str) -> None:
    engine = create_engine(DatabaseUrl.parse(sqlite_database_url).sync_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE dag ADD COLUMN surplus INTEGER")
        connection.exec_driver_sql("DROP INDEX ix_task_instance_state")
    engine.dispose()

    drift = schema.inspect_schema_sync(sqlite_database_url).drift

    assert sorted(drift) == [
        "column dag.surplus: in the database but not in the models",
        "index task_instance.ix_task_instance_state: missing from the database",
    ]


def test_migration_creates_the_default_pool(database_url: str) -> None:
    engine = create_engine(DatabaseUrl.parse(database_url).sync_url, poolclass=NullPool)
    with engine.connect() as connection:
        pools = connection.execute(select(slot_pool.c.pool, slot_pool.c.slots)).all()
    engine.dispose()

    assert [tuple(row) for row in pools] == [(DEFAULT_POOL_NAME, DEFAULT_POOL_SLOTS)]
    assert (DEFAULT_POOL_NAME, DEFAULT_POOL_SLOTS) == ("default_pool", 128)


@pytest.mark.postgres
def test_each_test_gets_the_shared_postgres_database_as_migrated(
    postgres_database_url: str, migrated_postgres: MigratedPostgres
) -> None:
    engine = create_engine(DatabaseUrl.parse(postgres_database_url).sync_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(insert(slot_pool).values(pool="spare", slots=3))
        connection.execute(insert(variable).values(key="k", val="v"))
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'elsewhere'")

    migrated_postgres.restore()  # what the fixture does before the next test

    with engine.connect() as connection:
        pools = connection.execute(select(slot_pool.c.id, slot_pool.c.pool)).all()
        assert [tuple(row) for row in pools] == [(1, DEFAULT_POOL_NAME)]
        assert connection.execute(select(variable)).all() == []
    engine.dispose()
    assert schema.inspect_schema_sync(postgres_database_url).state == "up_to_date"


def test_each_test_gets_its_own_sqlite_copy(sqlite_database_url: str, tmp_path: Path) -> None:
    assert DatabaseUrl.parse(sqlite_database_url).sqlite_path == str(tmp_path / "metadata.db")
    assert schema.inspect_schema_sync(sqlite_database_url).state == "up_to_date"


def test_notes_migration_keeps_existing_runs_and_task_instances(empty_database_url: str) -> None:
    # A database from before notes existed, with a run and a task instance in it.
    schema.migrate_sync(empty_database_url, "0002")
    engine = create_engine(DatabaseUrl.parse(empty_database_url).sync_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO dag_run (dag_id, run_id, state, run_type, run_after) "
                "VALUES ('etl', 'r1', 'success', 'manual', '2026-11-23 00:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO task_instance (id, dag_id, run_id, task_id, pool) VALUES "
                "('00000000-0000-0000-0000-000000000001', 'etl', 'r1', 'extract', 'default_pool')"
            )

        schema.migrate_sync(empty_database_url)

        with engine.begin() as connection:
            assert connection.execute(select(dag_run.c.run_id, dag_run.c.note)).all() == [
                ("r1", None)
            ]
            connection.execute(update(task_instance).values(note="looked at it"))
            assert connection.execute(select(task_instance.c.note)).scalars().all() == [
                "looked at it"
            ]

        schema.downgrade_sync(empty_database_url, "0002")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("task_instance")}
            assert "note" not in columns
            assert connection.exec_driver_sql("SELECT count(*) FROM task_instance").scalar() == 1
    finally:
        engine.dispose()
