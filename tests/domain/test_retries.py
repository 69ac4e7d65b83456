"""Retry eligibility and Airflow's retry delay formula."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.domain.retries import (
    DEFAULT_MAX_TASK_RETRY_DELAY,
    next_retry_at,
    retry_delay_for,
    retry_jitter_hash,
    should_retry,
)

END = datetime(2025, 1, 1, tzinfo=UTC)


def delay(
    try_number: int,
    *,
    base: float = 300,
    backoff: bool = True,
    cap: timedelta | None = None,
    h: int = 0,
) -> timedelta:
    return retry_delay_for(
        try_number=try_number,
        retry_delay=timedelta(seconds=base),
        retry_exponential_backoff=backoff,
        max_retry_delay=cap,
        ti_key_hash=h,
    )


@pytest.mark.parametrize(
    ("kwargs", "seconds"),
    [
        ({"try_number": 1, "backoff": False}, 300),
        ({"try_number": 5, "backoff": False}, 300),  # fixed delay does not grow
        ({"try_number": 1}, 300),  # hash 0: the bottom of [base, 2 * base)
        ({"try_number": 1, "h": 299}, 599),  # the top of the range
        ({"try_number": 1, "h": 300}, 300),  # the hash wraps around
        ({"try_number": 2, "h": 1}, 601),
        ({"try_number": 3}, 1200),
        ({"try_number": 1, "base": 0.4}, 1),  # rounded up
        ({"try_number": 1, "base": 0, "h": 7}, 1),  # at least a second
        ({"try_number": 3, "cap": timedelta(minutes=10)}, 600),
        ({"try_number": 3, "cap": timedelta(0)}, 1200),  # zero means no cap, like Airflow
        ({"try_number": 200}, DEFAULT_MAX_TASK_RETRY_DELAY.total_seconds()),  # no overflow
    ],
)
def test_retry_delay(kwargs: dict[str, object], seconds: float) -> None:
    assert delay(**kwargs) == timedelta(seconds=seconds)  # type: ignore[arg-type]


def test_next_retry_at_counts_from_the_end_of_the_failed_try() -> None:
    at = next_retry_at(
        try_number=2,
        retry_delay=timedelta(seconds=10),
        retry_exponential_backoff=True,
        max_retry_delay=None,
        end_date=END,
        ti_key_hash=5,
    )
    assert at == END + timedelta(seconds=25)


def test_jitter_hash_is_airflows_and_varies_per_try() -> None:
    logical = datetime(2024, 1, 1, tzinfo=UTC)
    expected = hashlib.sha1(b"dag#task#2024-01-01T00:00:00+00:00#1", usedforsecurity=False)
    assert retry_jitter_hash("dag", "task", logical, 1) == int(expected.hexdigest(), 16)
    assert retry_jitter_hash("dag", "task", logical, 1) != retry_jitter_hash(
        "dag", "task", logical, 2
    )
    assert retry_jitter_hash("dag", "task", None, 1) != retry_jitter_hash("dag", "task", logical, 1)


@pytest.mark.parametrize(
    ("try_number", "max_tries", "retries", "expected"),
    [
        (1, 0, None, False),  # retries=0: the first failure is final
        (1, 1, None, True),
        (2, 1, None, False),
        (2, 3, None, True),
        (3, 3, 3, True),
        (1, 3, 0, False),  # the DAG now says retries=0
    ],
)
def test_should_retry(try_number: int, max_tries: int, retries: int | None, expected: bool) -> None:
    assert should_retry(try_number, max_tries, retries=retries) is expected


@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(0, 4000, allow_nan=False),
    cap=st.none() | st.integers(1, 10**6).map(lambda s: timedelta(seconds=s)),
    tries=st.integers(1, 40),
    task=st.text(max_size=5),
)
def test_backoff_never_shrinks_and_respects_the_caps(
    base: float, cap: timedelta | None, tries: int, task: str
) -> None:
    delays = [
        delay(n, base=base, cap=cap, h=retry_jitter_hash("d", task, END, n))
        for n in range(1, tries + 1)
    ]
    assert delays == sorted(delays)
    ceiling = min(DEFAULT_MAX_TASK_RETRY_DELAY, cap or DEFAULT_MAX_TASK_RETRY_DELAY)
    assert all(timedelta(0) < d <= ceiling for d in delays)
