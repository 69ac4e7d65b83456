"""Which adapter `open_database` picks, and what users see when the database is unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_sc.db.engine import choose_adapter, open_database
from airflow_sc.db.errors import DatabaseUnavailable


@pytest.mark.parametrize(
    ("dialect", "backend", "expected"),
    [
        ("postgresql", "asyncio", "native"),
        ("postgresql", "trio", "thread"),
        ("sqlite", "asyncio", "thread"),
        ("sqlite", "trio", "thread"),
    ],
)
def test_auto_picks_native_only_for_postgres_on_asyncio(
    dialect: str, backend: str, expected: str
) -> None:
    assert choose_adapter("auto", dialect=dialect, backend=backend) == expected  # type: ignore[arg-type]
    assert choose_adapter("thread", dialect=dialect, backend=backend) == "thread"  # type: ignore[arg-type]


@pytest.mark.parametrize(("dialect", "backend"), [("postgresql", "trio"), ("sqlite", "asyncio")])
def test_native_where_it_cannot_run_is_refused(dialect: str, backend: str) -> None:
    with pytest.raises(ValueError, match="native database adapter needs PostgreSQL on asyncio"):
        choose_adapter("native", dialect=dialect, backend=backend)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_open_database_uses_the_adapter_for_backend_and_url(
    empty_database_url: str, database_kind: str, anyio_backend: str
) -> None:
    async with open_database(empty_database_url) as db:
        expected = (
            "native" if (database_kind, anyio_backend) == ("postgres", "asyncio") else "thread"
        )
        assert db.adapter == expected
        assert db.statistics().adapter == expected


@pytest.mark.anyio
async def test_native_on_sqlite_is_refused_before_connecting(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="native"):
        async with open_database(sqlite_url, adapter="native"):
            pass


@pytest.mark.anyio
@pytest.mark.parametrize("adapter", ["auto", "thread"])
async def test_refused_port_raises_database_unavailable_with_the_password_hidden(
    adapter: str,
) -> None:
    url = "postgresql://airflow:s3cret@127.0.0.1:1/airflow"
    with pytest.raises(DatabaseUnavailable) as caught:
        async with open_database(url, adapter=adapter, connect_wait=0.3):  # type: ignore[arg-type]
            pass
    message = str(caught.value)
    assert "127.0.0.1:1" in message
    assert "s3cret" not in message
    assert "refused" in message.lower()


@pytest.mark.anyio
async def test_unopenable_sqlite_file_fails_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'airflow-sc.db'}"
    with pytest.raises(DatabaseUnavailable, match="unable to open database file"):
        async with open_database(url, connect_wait=60):
            pass
