"""Column types and constraints as code using the tables sees them, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, event, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.pool import NullPool

from airflow_sc.db.models import (
    dag_run,
    task_instance,
    task_instance_history,
    trigger,
    xcom,
)
from airflow_sc.db.url import DatabaseUrl

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
PLUS_FIVE = timezone(timedelta(hours=5))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A sync engine on the migrated database; SQLite enforces foreign keys, as it must."""
    engine = create_engine(DatabaseUrl.parse(database_url).sync_url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    yield engine
    engine.dispose()


def add_run(connection: Connection, run_id: str = "manual__1", **values: Any) -> int:
    row = {"dag_id": "etl", "run_id": run_id, "run_type": "manual", "run_after": T0, **values}
    return int(connection.execute(insert(dag_run).values(row).returning(dag_run.c.id)).scalar_one())


def add_task_instance(connection: Connection, run_id: str = "manual__1", **values: Any) -> str:
    ti_id = str(uuid.uuid4())
    row = {
        "id": ti_id,
        "dag_id": "etl",
        "run_id": run_id,
        "task_id": "extract",
        "pool": "default_pool",
    }
    connection.execute(insert(task_instance).values({**row, **values}))
    return ti_id


def test_datetimes_come_back_aware_in_utc(engine: Engine) -> None:
    queued_at = datetime(2026, 3, 29, 5, 30, 0, 123456, tzinfo=PLUS_FIVE)
    with engine.begin() as connection:
        add_run(connection, queued_at=queued_at)
        stored = connection.execute(select(dag_run.c.queued_at, dag_run.c.run_after)).one()

    assert stored.queued_at == queued_at
    assert stored.queued_at.utcoffset() == timedelta(0)
    assert stored.run_after == T0
    assert stored.run_after.tzinfo is not None


def test_datetimes_given_in_other_zones_compare_and_sort_by_instant(engine: Engine) -> None:
    # 03:00+05:00 is 22:00 UTC the day before: earlier than T0 although its digits are later.
    early = datetime(2026, 3, 29, 3, 0, tzinfo=PLUS_FIVE)
    with engine.begin() as connection:
        add_run(connection, "late", run_after=T0)
        add_run(connection, "early", run_after=early)
        ordered = connection.execute(select(dag_run.c.run_id).order_by(dag_run.c.run_after))
        due = connection.execute(select(dag_run.c.run_id).where(dag_run.c.run_after < T0))

        assert ordered.scalars().all() == ["early", "late"]
        assert due.scalars().all() == ["early"]


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(StatementError) as caught:
        add_run(connection, run_after=datetime(2026, 3, 29, 0, 30))

    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value.orig)


def test_json_columns_keep_documents_and_store_none_as_null(engine: Engine) -> None:
    conf = {"table": "events", "limit": 10, "tags": ["a", "b"], "nested": {"x": None}}
    with engine.begin() as connection:
        add_run(connection, "with_conf", conf=conf)
        add_run(connection, "without_conf", conf=None)
        without = connection.execute(select(dag_run.c.run_id).where(dag_run.c.conf.is_(None)))
        stored = connection.execute(select(dag_run.c.conf).where(dag_run.c.run_id == "with_conf"))

        assert without.scalars().all() == ["without_conf"]
        assert stored.scalar_one() == conf


def test_deleting_a_run_deletes_its_task_instances_history_and_xcom(engine: Engine) -> None:
    with engine.begin() as connection:
        run = add_run(connection)
        other_run = add_run(connection, "manual__2", logical_date=T0)
        add_task_instance(connection, try_number=2)
        kept = add_task_instance(connection, "manual__2")
        connection.execute(
            insert(task_instance_history).values(
                task_instance_id=str(uuid.uuid4()), dag_id="etl", run_id="manual__1",
                task_id="extract", try_number=1, state="failed", pool="default_pool",
            )
        )  # fmt: skip
        connection.execute(
            insert(xcom),
            [
                {"dag_run_id": run_id, "task_id": "extract", "key": "return_value",
                 "dag_id": "etl", "run_id": run_name, "value": [1, 2], "timestamp": T0}
                for run_id, run_name in ((run, "manual__1"), (other_run, "manual__2"))
            ],
        )  # fmt: skip

    with engine.begin() as connection:
        connection.execute(delete(dag_run).where(dag_run.c.id == run))

    with engine.connect() as connection:
        assert connection.execute(select(task_instance.c.id)).scalars().all() == [kept]
        assert connection.execute(select(task_instance_history)).all() == []
        assert connection.execute(select(xcom.c.run_id)).scalars().all() == ["manual__2"]


def test_a_task_instance_exists_once_per_run_task_and_map_index(engine: Engine) -> None:
    with engine.begin() as connection:
        add_run(connection)
        add_task_instance(connection, map_index=0)
        add_task_instance(connection, map_index=1)

    with engine.begin() as connection, pytest.raises(IntegrityError):
        add_task_instance(connection, map_index=1)


def test_a_task_instance_needs_its_run(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(IntegrityError):
        add_task_instance(connection, run_id="no_such_run")


def test_deleting_a_trigger_keeps_the_task_instance_that_waited_on_it(engine: Engine) -> None:
    with engine.begin() as connection:
        add_run(connection)
        trigger_id = connection.execute(
            insert(trigger)
            .values(classpath="x.Trigger", kwargs="{}", created_date=T0)
            .returning(trigger.c.id)
        ).scalar_one()
        ti = add_task_instance(connection, state="deferred", trigger_id=trigger_id)

    with engine.begin() as connection:
        connection.execute(delete(trigger))
        remaining = connection.execute(select(task_instance.c.id, task_instance.c.trigger_id))

        assert [tuple(row) for row in remaining] == [(ti, None)]
