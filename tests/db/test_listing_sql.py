"""`db/listing.py` against the pure rules of `domain/listing.py`, on SQLite and PostgreSQL.

Many generated values and patterns (wildcards, escapes, `|`, `~`, mixed case, punctuation,
NULL): for each, the rows the database returns must be exactly those
`NamePattern.matches` accepts, on both databases. ASCII only: SQLite folds the case of
ASCII letters only, PostgreSQL of every letter (documented).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.listing import like_pattern, name_clauses, prefix_upper_bound
from airflow_sc.db.models import variable
from airflow_sc.domain.listing import NamePattern, Range
from tests.api.conftest import ONE_BACKEND_PER_DATABASE

ALPHABET = "aAbBz09_%\\|-.~ "
SAMPLES = 400


def _text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def _values(rng: random.Random) -> list[str | None]:
    values: set[str] = {"etl_daily", "etl-daily", "ETLx", "50%", "a\\b", "x|y", "~", ""}
    while len(values) < 120:
        values.add(_text(rng, 7))
    return [*sorted(values), None]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


async def _store(db: Database, values: list[str | None]) -> None:
    rows = [{"key": f"k{i}", "val": "", "description": v} for i, v in enumerate(values)]

    async def body(tx: Transaction) -> None:
        await tx.execute(insert(variable), rows)

    await db.run(body)


async def _selected(db: Database, pattern: NamePattern) -> set[str]:
    query = select(variable.c.key).where(*name_clauses(variable.c.description, pattern))

    async def body(tx: Transaction) -> set[str]:
        return {row.key for row in await tx.execute(query)}

    return await db.run(body, write=False)


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_sql_matches_the_pure_rule_on_both_databases(db: Database) -> None:
    rng = random.Random(20261207)
    values = _values(rng)
    await _store(db, values)
    keys = {f"k{i}": v for i, v in enumerate(values)}
    mismatches = []
    for i in range(SAMPLES):
        substring = _text(rng, 4) if i % 3 != 1 else None
        prefix = _text(rng, 4) if i % 3 != 0 else None
        if i % 17 == 0:
            substring = f"{_text(rng, 2)}|{_text(rng, 2)}"
        pattern = NamePattern(substring, prefix)
        expected = {k for k, v in keys.items() if pattern.matches(v)}
        got = await _selected(db, pattern)
        if got != expected:
            mismatches.append((pattern, sorted(keys[k] or "<null>" for k in got ^ expected)))
    assert not mismatches, mismatches[:10]


@pytest.mark.anyio
@ONE_BACKEND_PER_DATABASE
async def test_a_null_value_matches_only_an_unconstrained_pattern(db: Database) -> None:
    await _store(db, ["etl", None])
    assert await _selected(db, NamePattern("~", "~")) == {"k0", "k1"}
    assert await _selected(db, NamePattern("%")) == {"k0"}
    assert await _selected(db, NamePattern(prefix="e")) == {"k0"}


def test_like_pattern_and_prefix_bound() -> None:
    assert like_pattern("a_b") == "%a_b%"
    assert like_pattern("ab\\") == "%ab\\\\%"
    assert like_pattern("ab\\\\") == "%ab\\\\%"
    assert prefix_upper_bound("etl") == "etm"
    assert prefix_upper_bound("a9") is None  # ":" would leave the alphanumerics
    assert prefix_upper_bound("az") is None
    assert Range(gte=1, lt=3).bounds() == [(">=", 1), ("<", 3)]
