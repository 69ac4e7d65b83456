"""Schema status, the start-up check of `airflow-sc run`, and `db reset`."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from airflow_sc.db import schema
from airflow_sc.db.models import slot_pool, variable
from airflow_sc.db.url import DatabaseUrl

UNKNOWN_REVISION = "9999_from_the_future"


def execute(url: str, *statements: str) -> None:
    engine = create_engine(DatabaseUrl.parse(url).sync_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def stamp_newer_revision(url: str) -> None:
    execute(url, f"UPDATE alembic_version SET version_num = '{UNKNOWN_REVISION}'")


# -- inspect_schema --------------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_sqlite_file_is_empty_and_left_uncreated(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"

    status = await schema.inspect_schema(f"sqlite:///{path}")

    assert (status.state, status.current, status.head) == ("empty", None, schema.head_revision())
    assert not path.exists()


@pytest.mark.anyio
async def test_never_migrated_database_is_empty(empty_database_url: str) -> None:
    status = await schema.inspect_schema(empty_database_url)

    assert (status.state, status.current) == ("empty", None)


@pytest.mark.anyio
async def test_migrated_database_is_up_to_date(database_url: str) -> None:
    status = await schema.inspect_schema(database_url)

    # No drift check here: other tests may add their own tables to the shared PostgreSQL
    # database. test_migrations checks drift on a database of its own.
    assert (status.state, status.current, status.head) == (
        "up_to_date",
        schema.head_revision(),
        schema.head_revision(),
    )


@pytest.mark.anyio
async def test_database_downgraded_to_base_is_behind(sqlite_database_url: str) -> None:
    await schema.downgrade(sqlite_database_url)

    status = await schema.inspect_schema(sqlite_database_url)

    assert (status.state, status.current) == ("behind", None)


@pytest.mark.anyio
async def test_database_at_an_unknown_revision_is_ahead(sqlite_database_url: str) -> None:
    stamp_newer_revision(sqlite_database_url)

    status = await schema.inspect_schema(sqlite_database_url)

    assert (status.state, status.current) == ("ahead", UNKNOWN_REVISION)
    assert status.drift == []


# -- ensure_schema_for_run -------------------------------------------------------------


@pytest.mark.anyio
async def test_run_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "home" / "not-yet" / "airflow-sc.db"

    status = await schema.ensure_schema_for_run(f"sqlite:///{path}")

    assert status.state == "up_to_date"
    assert (await schema.inspect_schema(f"sqlite:///{path}")).state == "up_to_date"


@pytest.mark.anyio
async def test_processes_starting_together_create_a_fresh_sqlite_database_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'airflow-sc.db'}"
    states: list[str] = []

    async def start() -> None:
        states.append((await schema.ensure_schema_for_run(url)).state)

    # Real worker threads: the loser waits for the winner's write lock, then finds the
    # schema in place instead of creating it twice.
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(start)

    assert states == ["up_to_date"] * 3


@pytest.mark.anyio
async def test_run_accepts_a_migrated_database(database_url: str) -> None:
    status = await schema.ensure_schema_for_run(database_url)

    assert status.state == "up_to_date"


@pytest.mark.postgres
@pytest.mark.anyio
async def test_run_refuses_an_unmigrated_postgres_database(fresh_postgres_url: str) -> None:
    # trust authentication ignores the password; the message must not show it.
    url = make_url(fresh_postgres_url).set(password="s3cret").render_as_string(False)

    with pytest.raises(schema.SchemaError) as caught:
        await schema.ensure_schema_for_run(url)

    message = str(caught.value)
    assert DatabaseUrl.parse(url).redacted() in message
    assert "s3cret" not in message
    assert f"none, expected {schema.head_revision()}" in message
    assert "run `airflow-sc db migrate`" in message
    assert caught.value.status.state == "empty"
    assert "alembic_version" not in inspect_tables(url)


@pytest.mark.anyio
async def test_run_refuses_a_database_from_a_newer_airflow_sc(database_url: str) -> None:
    stamp_newer_revision(database_url)

    with pytest.raises(schema.SchemaError) as caught:
        await schema.ensure_schema_for_run(database_url)

    message = str(caught.value)
    assert DatabaseUrl.parse(database_url).redacted() in message
    assert f"revision {UNKNOWN_REVISION}" in message
    assert f"expects {schema.head_revision()}" in message
    assert "upgrade airflow-sc" in message
    assert "db migrate" not in message


@pytest.mark.anyio
async def test_run_refuses_a_sqlite_database_behind(sqlite_database_url: str) -> None:
    await schema.downgrade(sqlite_database_url)

    with pytest.raises(schema.SchemaError, match=r"at revision base .*`airflow-sc db migrate`"):
        await schema.ensure_schema_for_run(sqlite_database_url)


@pytest.mark.anyio
async def test_run_does_not_migrate_a_sqlite_file_holding_other_tables(sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE somebody_elses (x INTEGER)")

    with pytest.raises(schema.SchemaError, match="has no airflow-sc schema"):
        await schema.ensure_schema_for_run(sqlite_url)

    assert inspect_tables(sqlite_url) == {"somebody_elses"}


# -- reset -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_reset_empties_the_database_and_recreates_the_schema(
    empty_database_url: str,
) -> None:
    await schema.migrate(empty_database_url)
    engine = create_engine(DatabaseUrl.parse(empty_database_url).sync_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(insert(variable).values(key="k", val="v"))
        connection.execute(slot_pool.delete())
    stamp_newer_revision(empty_database_url)

    await schema.reset(empty_database_url)

    with engine.connect() as connection:
        assert connection.execute(select(variable)).all() == []
        assert connection.execute(select(slot_pool.c.pool)).scalars().all() == ["default_pool"]
    engine.dispose()
    assert (await schema.inspect_schema(empty_database_url)).state == "up_to_date"


@pytest.mark.postgres
def test_reset_keeps_postgres_tables_airflow_sc_does_not_own(fresh_postgres_url: str) -> None:
    schema.migrate_sync(fresh_postgres_url)
    execute(
        fresh_postgres_url,
        "CREATE TABLE other_app (dag_id VARCHAR(250) REFERENCES dag (dag_id))",
        "INSERT INTO other_app VALUES (NULL)",
    )

    schema.reset_sync(fresh_postgres_url)

    assert "other_app" in inspect_tables(fresh_postgres_url)
    assert schema.inspect_schema_sync(fresh_postgres_url).drift == [
        "table other_app: in the database but not in the models"
    ]


def inspect_tables(url: str) -> set[str]:
    engine = create_engine(DatabaseUrl.parse(url).sync_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
