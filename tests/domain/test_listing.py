"""The listing vocabulary's pure rules: patterns, order_by, pages, in-memory order."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from airflow_sc.domain.listing import (
    MAX_LIMIT,
    Listing,
    ListingError,
    NamePattern,
    OrderField,
    TooManyOrderFields,
    UnknownOrderField,
    in_memory_order,
    parse_order_by,
    pattern_alternatives,
    prefix_alternatives,
)


@pytest.mark.parametrize(
    ("raw", "alternatives"),
    [
        (None, None),
        ("", None),
        ("~", None),
        ("etl", ("etl",)),
        (" etl ", (" etl ",)),  # without `|` a value is taken as it is, as Airflow does
        ("a|b", ("a", "b")),
        (" a | b |", ("a", "b")),
        ("|", None),
        ("a|~", ("a", "~")),  # `~` matches everything only as the whole value
        ("50%_done", ("50%_done",)),
    ],
)
def test_pattern_alternatives(raw: str | None, alternatives: tuple[str, ...] | None) -> None:
    assert pattern_alternatives(raw) == alternatives


@pytest.mark.parametrize(
    ("raw", "prefixes"),
    [
        (None, None),
        ("~", None),
        ("etl", ("etl",)),
        ("test_", ("test",)),
        ("s3://", ("s3",)),
        ("a|b_", ("a", "b")),
        ("a|__", None),  # an alternative left empty matches everything
        ("e_l", ("e_l",)),
    ],
)
def test_prefix_alternatives(raw: str | None, prefixes: tuple[str, ...] | None) -> None:
    assert prefix_alternatives(raw) == prefixes


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (NamePattern("ETL"), "daily_etl_job", True),
        (NamePattern("etl_daily"), "etl-daily", True),
        (NamePattern("etl\\_daily"), "etl-daily", False),
        (NamePattern("etl\\_daily"), "etl_daily", True),
        (NamePattern("50\\%"), "50% done", True),
        (NamePattern("50\\%"), "500 done", False),
        (NamePattern("a%c"), "xabbbcx", True),
        (NamePattern("a\\\\b"), "a\\b", True),
        (NamePattern("ab\\"), "xab\\", True),  # a lone trailing backslash is literal
        (NamePattern("x|y"), "y", True),
        (NamePattern("x|y"), "z", False),
        (NamePattern("~"), None, True),
        (NamePattern("a"), None, False),
        (NamePattern(prefix="etl"), "etl_daily", True),
        (NamePattern(prefix="etl"), "ETL_daily", False),
        (NamePattern(prefix="e%"), "etl", True),  # `%` is trailing punctuation: dropped
        (NamePattern(prefix="e%l"), "etl", False),  # and literal elsewhere
        (NamePattern("daily", prefix="etl"), "etl_daily", True),
        (NamePattern("hourly", prefix="etl"), "etl_daily", False),
    ],
)
def test_name_pattern_matches(pattern: NamePattern, value: str | None, matches: bool) -> None:
    assert pattern.matches(value) is matches


def test_order_by_names_the_allowed_fields_when_unknown() -> None:
    assert parse_order_by(["-b", "a"], ["a", "b"]) == (OrderField("b", True), OrderField("a"))
    assert parse_order_by(["a,-b"], ["a", "b"]) == (OrderField("a"), OrderField("b", True))
    with pytest.raises(UnknownOrderField) as caught:
        parse_order_by(["nope"], ["b", "a"])
    assert str(caught.value) == (
        "Ordering with 'nope' is disallowed or the attribute does not exist on the model; "
        "supported: a, b"
    )
    with pytest.raises(TooManyOrderFields):
        parse_order_by(["a"] * 11, ["a"])


def test_requested_listing_cuts_the_page_at_airflows_maximum() -> None:
    assert Listing.requested([], ["a"], limit=1000, offset=5) == Listing((), MAX_LIMIT, 5)
    assert Listing.requested(["-a"], ["a"]).limit == 50
    assert Listing.requested(["-a"], ["a"]).tiebreak_descending
    with pytest.raises(ListingError):
        Listing(limit=-1)
    with pytest.raises(ListingError):
        Listing(offset=-1)


@dataclass
class Row:
    key: int
    name: str | None


ROWS = [Row(1, "b"), Row(2, None), Row(3, "a"), Row(4, "b")]


def value(row: Row, key: str) -> object:
    return getattr(row, key)


@pytest.mark.parametrize(
    ("order_by", "keys"),
    [
        ((), [1, 2, 3, 4]),
        ((OrderField("name"),), [3, 1, 4, 2]),  # NULL last ascending
        ((OrderField("name", True),), [4, 1, 3, 2]),  # and descending; ties by key desc
    ],
)
def test_in_memory_order_is_the_databases(
    order_by: tuple[OrderField, ...], keys: list[int]
) -> None:
    listing = Listing(order_by, limit=None)
    rows = in_memory_order(ROWS, listing, value, tiebreak=lambda row: row.key)
    assert [row.key for row in rows] == keys


def test_in_memory_order_pages() -> None:
    listing = Listing((OrderField("key"),), limit=2, offset=1)
    rows = in_memory_order(ROWS, listing, value, tiebreak=lambda row: row.key)
    assert [row.key for row in rows] == [2, 3]
