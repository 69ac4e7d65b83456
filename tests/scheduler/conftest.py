from collections.abc import AsyncIterator

import pytest

from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from tests.scheduler.dags import FakeClock


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
