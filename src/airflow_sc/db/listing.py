"""The listing vocabulary (`airflow_sc.domain.listing`) in SQL, the same on SQLite and
PostgreSQL.

Where the two databases differ, the SQL here is written so that they do not:

- `*_pattern` is `ILIKE` with an explicit `ESCAPE '\\'`. PostgreSQL's `LIKE` takes `\\` as
  its escape character by default and SQLite has none: naming it makes `\\%`, `\\_` and
  `\\\\` literal on both. (SQLite folds the case of ASCII letters only; PostgreSQL folds
  every letter.)
- `*_prefix_pattern` never uses `LIKE`, which is case-insensitive on SQLite: it is a
  `substr(value, 1, n) = prefix` equality, case-sensitive on both, plus the bounds
  `value >= prefix AND value < next` that let an index on the column serve it.
- NULLs sort last in both directions (the two databases' defaults differ).

A listing costs two statements: one count and one page (`fetch_page`).
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.sql import Select

from airflow_sc.db.database import Database, Transaction
from airflow_sc.domain.listing import Listing, NamePattern, Page, Range, UnknownOrderField

__all__ = [
    "OrderColumns",
    "each_row",
    "fetch_page",
    "like_pattern",
    "name_clauses",
    "order_clauses",
    "prefix_upper_bound",
    "range_clauses",
    "read_page",
]

T = TypeVar("T")

#: Makes a page's items from its rows, in the transaction that read them.
LoadItems = Callable[[Transaction, list[Any]], Awaitable[list[T]]]

#: The escape character of every `LIKE` written here.
ESCAPE: Final = "\\"

#: Attribute name -> the column it sorts by; `None` for an attribute airflow-sc always
#: leaves null (Airflow's `team_name`, say): accepted, and sorting by it changes nothing.
OrderColumns = Mapping[str, ColumnElement[Any] | None]

_COMPARE: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def like_pattern(term: str) -> str:
    """`%term%` for `LIKE ... ESCAPE '\\'`: `%` and `_` stay wildcards, `\\x` stays a
    literal `x`, and a lone `\\` at the end is a literal backslash (rather than escaping
    the closing `%`)."""
    if term.endswith(ESCAPE) and (len(term) - len(term.rstrip(ESCAPE))) % 2:
        term += ESCAPE
    return f"%{term}%"


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix`, when it can stay
    alphanumeric (its last character bumped by one); None otherwise.

    An alphanumeric bound keeps the range meaningful under locale-aware collations; the
    `substr` equality beside it is what decides, so a missing bound only widens the scan.
    """
    bumped = chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else ""
    return prefix[:-1] + bumped if bumped.isalnum() else None


def _prefix_clause(column: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
    clauses = [column >= prefix, func.substr(column, 1, len(prefix)) == prefix]
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        clauses.append(column < upper)
    return and_(*clauses)


def name_clauses(column: ColumnElement[Any], pattern: NamePattern) -> list[ColumnElement[bool]]:
    """WHERE terms for a `*_pattern` / `*_prefix_pattern` pair on `column` (none when it
    matches everything; a NULL value matches no pattern)."""
    out: list[ColumnElement[bool]] = []
    substrings = pattern.substrings()
    if substrings is not None:
        out.append(or_(*(column.ilike(like_pattern(t), escape=ESCAPE) for t in substrings)))
    prefixes = pattern.prefixes()
    if prefixes is not None:
        out.append(or_(*(_prefix_clause(column, p) for p in prefixes)))
    return out


def range_clauses(column: ColumnElement[Any], bounds: Range[Any]) -> list[ColumnElement[bool]]:
    """WHERE terms for the bounds of a `Range` on `column`."""
    return [_COMPARE[op](column, bound) for op, bound in bounds.bounds()]


def order_clauses(
    listing: Listing, columns: OrderColumns, tiebreak: Sequence[ColumnElement[Any]]
) -> list[ColumnElement[Any]]:
    """ORDER BY terms for `listing.order_by`, then `tiebreak` (a unique key of the rows) in
    the direction of the first term, so pages are stable."""
    out: list[ColumnElement[Any]] = []
    for item in listing.order_by:
        if item.key not in columns:
            raise UnknownOrderField(item.key, columns)
        column = columns[item.key]
        if column is not None:
            # NULLs last in both directions, the same on both dialects.
            out.append((column.desc() if item.descending else column.asc()).nulls_last())
    descending = listing.tiebreak_descending
    out += [column.desc() if descending else column.asc() for column in tiebreak]
    return out


async def fetch_page(
    tx: Transaction, query: Select[Any], listing: Listing
) -> tuple[list[Any], int]:
    """The rows of `query` on the page `listing` asks for, and the count of all the rows
    `query` matches: two statements (one when the page is empty by request)."""
    total = await tx.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if listing.limit == 0:
        return [], int(total or 0)
    page = query.offset(listing.offset) if listing.offset else query
    if listing.limit is not None:
        page = page.limit(listing.limit)
    return (await tx.execute(page)).all(), int(total or 0)


async def read_page(
    db: Database, query: Select[Any], listing: Listing, load: LoadItems[T]
) -> Page[T]:
    """The page of `query` that `listing` asks for, its items made by `load` (which may read
    what the rows refer to) in the same read transaction."""

    async def body(tx: Transaction) -> Page[T]:
        rows, total = await fetch_page(tx, query, listing)
        return Page(await load(tx, rows), total)

    return await db.run(body, write=False)


def each_row(convert: Callable[[Any], T]) -> LoadItems[T]:
    """A `load` that converts each row by itself."""

    async def load(tx: Transaction, rows: list[Any]) -> list[T]:
        return [convert(row) for row in rows]

    return load
