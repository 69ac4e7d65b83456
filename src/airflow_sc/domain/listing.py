"""The listing vocabulary: what a list request asks for beyond its resource's own filters.

Every list of airflow-sc, in the REST API and the CLI alike, speaks it with the meanings
of Airflow's REST API v2:

- `NamePattern`: a `<name>_pattern` / `<name>_prefix_pattern` pair of filters on one text
  value. `*_pattern` matches a substring, case-insensitively, with the SQL `LIKE`
  wildcards (`%` any run of characters, `_` any one character; `\\` makes the next
  character literal). `*_prefix_pattern` matches the start of the value, case-sensitively
  and literally, once trailing non-alphanumeric characters are dropped (`test_` matches
  what starts with `test`: it keeps the match an index range scan). In both, `|` separates
  alternatives (any may match) and `~` alone matches everything.
- `Range`: the `<name>_gte/_gt/_lte/_lt` bounds on one value.
- `OrderField` and `parse_order_by`: `order_by` names attributes, `-name` for descending
  order; an unknown name is an error that names the allowed ones.
- `Listing`: the order and one page (`limit`, `offset`) of the rows; `Listing.requested`
  applies Airflow's default and maximum page size. `Page` is what a listing returns: one
  page of rows and the number matching in all.

Pure: `db/listing.py` turns these into SQL, `api/listing.py` declares them as HTTP
parameters and the CLI as options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "DEFAULT_LIMIT",
    "MATCH_ALL",
    "MAX_LIMIT",
    "MAX_ORDER_FIELDS",
    "Listing",
    "ListingError",
    "NamePattern",
    "OrderField",
    "Page",
    "Range",
    "TooManyOrderFields",
    "UnknownOrderField",
    "in_memory_order",
    "parse_order_by",
    "pattern_alternatives",
    "prefix_alternatives",
]

#: Airflow's page size when a request names none (`[api] fallback_page_limit`).
DEFAULT_LIMIT = 50
#: Airflow's largest page (`[api] maximum_page_limit`): a larger `limit` is cut to it.
MAX_LIMIT = 100
#: Airflow refuses an `order_by` of more attributes than this.
MAX_ORDER_FIELDS = 10
#: A pattern that matches every value.
MATCH_ALL = "~"

T = TypeVar("T")
V = TypeVar("V", datetime, float, int)


class ListingError(ValueError):
    """A list request that cannot be answered as asked (the API answers 400)."""


class UnknownOrderField(ListingError):
    """`order_by` named an attribute the listing cannot sort by."""

    def __init__(self, name: str, allowed: Collection[str]) -> None:
        self.name = name
        self.allowed = sorted(allowed)
        super().__init__(
            f"Ordering with '{name}' is disallowed or the attribute does not exist on the "
            f"model; supported: {', '.join(self.allowed)}"
        )


class TooManyOrderFields(ListingError):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"Ordering with more than {MAX_ORDER_FIELDS} parameters is not allowed ({count} given)"
        )


# -- patterns ------------------------------------------------------------------------------


def _alternatives(raw: str | None) -> tuple[str, ...] | None:
    """The `|`-separated alternatives of a pattern; None when it matches everything.

    As Airflow: a value with `|` is split there, each alternative trimmed of surrounding
    spaces and empty ones dropped; a value without `|` is taken as it is.
    """
    if raw is None or raw in ("", MATCH_ALL):
        return None
    if "|" not in raw:
        return (raw,)
    terms = tuple(term.strip() for term in raw.split("|"))
    kept = tuple(term for term in terms if term)
    return kept or None


def pattern_alternatives(raw: str | None) -> tuple[str, ...] | None:
    """The `LIKE` patterns (without the surrounding `%`) a `*_pattern` value ORs together;
    None when the value does not constrain."""
    return _alternatives(raw)


def _strip_trailing_punctuation(term: str) -> str:
    end = len(term)
    while end and not term[end - 1].isalnum():
        end -= 1
    return term[:end]


def prefix_alternatives(raw: str | None) -> tuple[str, ...] | None:
    """The literal prefixes a `*_prefix_pattern` value ORs together, trailing
    non-alphanumeric characters dropped; None when the value does not constrain (also when
    an alternative is left empty: it matches everything)."""
    terms = _alternatives(raw)
    if terms is None:
        return None
    prefixes = tuple(_strip_trailing_punctuation(term) for term in terms)
    return None if not all(prefixes) else prefixes


@dataclass(frozen=True, slots=True)
class NamePattern:
    """`<name>_pattern` and `<name>_prefix_pattern` on one value; both must match."""

    pattern: str | None = None
    prefix: str | None = None

    def substrings(self) -> tuple[str, ...] | None:
        return pattern_alternatives(self.pattern)

    def prefixes(self) -> tuple[str, ...] | None:
        return prefix_alternatives(self.prefix)

    def matches(self, value: str | None) -> bool:
        """Whether `value` passes both filters, as the database decides it (for listings
        made in memory). Case is folded as PostgreSQL does; SQLite folds ASCII only."""
        substrings, prefixes = self.substrings(), self.prefixes()
        if substrings is None and prefixes is None:
            return True
        if value is None:
            return False
        if substrings is not None and not any(_like(t).search(value) for t in substrings):
            return False
        return prefixes is None or value.startswith(prefixes)


def _like(term: str) -> re.Pattern[str]:
    """A `LIKE` pattern (without its surrounding `%`) as a regular expression."""
    parts: list[str] = []
    chars = iter(term)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


# -- ranges --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range(Generic[V]):
    """`gte <= value`, `gt < value`, `value <= lte`, `value < lt`; a `None` bound does not
    constrain. A value that is NULL matches no bound."""

    gte: V | None = None
    gt: V | None = None
    lte: V | None = None
    lt: V | None = None

    def bounds(self) -> list[tuple[str, V]]:
        """The bounds given, as (comparison, bound) pairs: `>=`, `>`, `<=`, `<`."""
        given = ((">=", self.gte), (">", self.gt), ("<=", self.lte), ("<", self.lt))
        return [(op, bound) for op, bound in given if bound is not None]


# -- ordering and pages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderField:
    """One `order_by` item: an attribute name, descending when written with a leading `-`."""

    key: str
    descending: bool = False


def _terms(raw: Iterable[str]) -> list[str]:
    # Airflow repeats the parameter (`order_by=a&order_by=b`); a comma list is taken too.
    return [name for item in raw for name in (part.strip() for part in item.split(",")) if name]


def parse_order_by(raw: Iterable[str], allowed: Collection[str]) -> tuple[OrderField, ...]:
    """`order_by` terms (`name` or `-name`) checked against the `allowed` names.

    Raises `UnknownOrderField` or `TooManyOrderFields`.
    """
    terms = _terms(raw)
    if len(terms) > MAX_ORDER_FIELDS:
        raise TooManyOrderFields(len(terms))
    fields = []
    for term in terms:
        name = term.removeprefix("-")
        if name not in allowed:
            raise UnknownOrderField(name, allowed)
        fields.append(OrderField(name, descending=term.startswith("-")))
    return tuple(fields)


@dataclass(frozen=True, slots=True)
class Listing:
    """The order of a listing and the page of it wanted.

    Rows are sorted by `order_by`, then by the listing's unique key in the direction of
    the first field (Airflow's rule), so pages never overlap or skip rows. NULLs sort last
    in both directions. `limit=None` means every row (the CLI's default); requests from
    outside go through `requested`, which caps the page at `MAX_LIMIT`.
    """

    order_by: tuple[OrderField, ...] = ()
    limit: int | None = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ListingError(f"limit must be 0 or more, not {self.limit}")
        if self.offset < 0:
            raise ListingError(f"offset must be 0 or more, not {self.offset}")

    @classmethod
    def requested(
        cls,
        order_by: Iterable[str],
        allowed: Collection[str],
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Listing:
        """A client's listing: `order_by` checked against `allowed`, `limit` cut to
        `MAX_LIMIT` (as Airflow does, silently)."""
        return cls(parse_order_by(order_by, allowed), min(limit, MAX_LIMIT), offset)

    @property
    def tiebreak_descending(self) -> bool:
        return bool(self.order_by) and self.order_by[0].descending


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and how many rows match in all."""

    items: list[T]
    total: int


def _sort_key(key: str, value: Callable[[T, str], Any], descending: bool) -> Callable[[T], Any]:
    # NULLs last in both directions (the sort runs reversed for a descending field).
    if descending:
        return lambda item: (value(item, key) is not None, value(item, key))
    return lambda item: (value(item, key) is None, value(item, key))


def in_memory_order(
    items: Iterable[T],
    listing: Listing,
    value: Callable[[T, str], Any],
    *,
    tiebreak: Callable[[T], Any],
) -> list[T]:
    """The page of `items` `listing` asks for, ordered as the database orders a listing:
    by `value(item, key)` for each `order_by` field (NULLs last), then by `tiebreak` (a
    unique key) in the direction of the first field. For lists not kept in a table."""
    rows = sorted(items, key=tiebreak, reverse=listing.tiebreak_descending)
    for field in reversed(listing.order_by):  # stable sorts: the last key sorts first
        rows.sort(key=_sort_key(field.key, value, field.descending), reverse=field.descending)
    rows = rows[listing.offset :]
    return rows if listing.limit is None else rows[: listing.limit]
