"""One `record_history` for every writer that ends a try: one row per try, however often."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import task_instance, task_instance_history
from airflow_sc.db.queries.history import record_history
from tests.executors.world import add_run, add_ti

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        await add_run(database)
        yield database


async def rows(db: Database) -> list[tuple[str, int, str | None]]:
    async def body(tx: Transaction) -> list[tuple[str, int, str | None]]:
        found = await tx.execute(
            select(
                task_instance_history.c.task_instance_id,
                task_instance_history.c.try_number,
                task_instance_history.c.state,
            ).order_by(task_instance_history.c.try_number)
        )
        return [tuple(row) for row in found]  # type: ignore[misc]

    return await db.run(body, write=False)


async def test_recording_a_try_twice_leaves_one_row_holding_how_it_ended(db: Database) -> None:
    first = await add_ti(db, "succeed", state="failed", try_number=1)
    await db.run(lambda tx: record_history(tx, [first]))
    # A replayed batch, or a second writer ending the same try: nothing more, no error.
    await db.run(lambda tx: record_history(tx, [first, first]))

    second = str(uuid.uuid4())

    async def next_try(tx: Transaction) -> None:  # the next try gets a new id, as enqueue does
        await tx.execute(
            update(task_instance)
            .where(task_instance.c.id == first)
            .values(id=second, try_number=2, state="success")
        )

    await db.run(next_try)
    await db.run(lambda tx: record_history(tx, [second, second]))
    assert await rows(db) == [(first, 1, "failed"), (second, 2, "success")]


async def test_recording_nothing_writes_nothing(db: Database) -> None:
    await db.run(lambda tx: record_history(tx, []))
    assert await rows(db) == []
