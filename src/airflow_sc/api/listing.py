"""The listing vocabulary (`airflow_sc.domain.listing`) as HTTP parameters.

Every list route takes its query as one model (`Annotated[XListQuery, Query()]`) that
extends `ListQuery`: `limit` (default 50, cut to 100), `offset`, and an `order_by`
declared with `order_by_param` (the route's default and the attributes it sorts by, in
Airflow's order); its text filters are declared in pairs (`pattern_param`,
`prefix_pattern_param`). The `.../list` batch routes take `page_limit`, `page_offset` and
one `order_by` in their body (`BatchListBody`). An `order_by` the route cannot sort by is
a 400 that names the ones it can.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

from airflow_sc.domain.listing import (
    DEFAULT_LIMIT,
    Listing,
    ListingError,
    NamePattern,
    parse_order_by,
)

__all__ = [
    "BatchListBody",
    "ListQuery",
    "PageQuery",
    "order_by_param",
    "pattern_param",
    "prefix_pattern_param",
    "requested_listing",
    "requested_order",
]


def pattern_param(name: str) -> Any:
    """A `<name>_pattern` query parameter."""
    return Field(
        default=None,
        description=(
            "Case-insensitive substring match (SQL `ILIKE`): `%` matches any characters, "
            "`_` any one, `\\` makes the next one literal; `|` separates alternatives and "
            f"`~` matches everything. Slower than `{name}_prefix_pattern` on large tables."
        ),
    )


def prefix_pattern_param(name: str) -> Any:
    """A `<name>_prefix_pattern` query parameter."""
    return Field(
        default=None,
        description=(
            "Case-sensitive, index-friendly prefix match: `%` and `_` are literal and "
            "trailing non-alphanumeric characters are dropped (`test_` matches what starts "
            "with `test`); `|` separates alternatives and `~` matches everything."
        ),
    )


def order_by_param(allowed: Sequence[str], default: Sequence[str]) -> Any:
    """An `order_by` query parameter: `allowed` in the order the description lists them."""
    return Field(
        # A default rather than a default_factory: the OpenAPI document shows it (pydantic
        # copies a mutable default for each instance).
        default=list(default),
        description=(
            "Attributes to order by, multi criteria sort is supported. Prefix with `-` for "
            f"descending order. Supported attributes: `{', '.join(allowed)}`"
        ),
    )


def requested_order(order_by: Iterable[str], allowed: Collection[str]) -> Listing:
    """Every row in a client's `order_by` (for lists that are not paged); 400 for an
    attribute the route cannot sort by."""
    try:
        return Listing(parse_order_by(order_by, allowed), limit=None)
    except ListingError as exc:
        raise HTTPException(400, str(exc)) from None


def requested_listing(
    order_by: Iterable[str], allowed: Collection[str], *, limit: int, offset: int
) -> Listing:
    """A client's `Listing`; 400 for an `order_by` the route cannot sort by."""
    try:
        return Listing.requested(order_by, allowed, limit=limit, offset=offset)
    except ListingError as exc:
        raise HTTPException(400, str(exc)) from None


class PageQuery(BaseModel):
    """Paging of a list route's query (and its text filters' lookup)."""

    limit: int = Field(default=DEFAULT_LIMIT, ge=0)
    offset: int = Field(default=0, ge=0)

    def page_of(self, order_by: Iterable[str], allowed: Collection[str]) -> Listing:
        """This page of the rows in the order `order_by` (checked against `allowed`)."""
        return requested_listing(order_by, allowed, limit=self.limit, offset=self.offset)

    def name_pattern(self, name: str) -> NamePattern:
        """The `<name>_pattern` / `<name>_prefix_pattern` pair this query declares."""
        return NamePattern(
            getattr(self, f"{name}_pattern"), getattr(self, f"{name}_prefix_pattern")
        )


class ListQuery(PageQuery):
    """Paging and ordering of a list route's query; routes extend it with their filters
    and give `order_by` its default with `order_by_param`."""

    order_by: list[str] = Field(default_factory=list)

    def listing(self, allowed: Collection[str]) -> Listing:
        return self.page_of(self.order_by, allowed)


class BatchListBody(BaseModel):
    """Paging and ordering of a `.../list` batch body, as Airflow names them there."""

    order_by: str | None = None
    page_offset: int = Field(default=0, ge=0)
    page_limit: int = Field(default=100, ge=0)

    def listing(self, allowed: Collection[str], default: str) -> Listing:
        return requested_listing(
            [self.order_by or default], allowed, limit=self.page_limit, offset=self.page_offset
        )
