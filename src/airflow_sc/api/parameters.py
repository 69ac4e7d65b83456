"""Query parameters and body fields shared by routes: paging, ordering, `update_mask`.

`order_by` is a list of attribute names, each optionally prefixed by `-` for descending
order; each route maps the names it supports to columns (`parse_order_by` is pure).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Annotated

from fastapi import HTTPException, Query
from pydantic import BaseModel, Field

from airflow_sc.db.queries.api_runs import OrderField

__all__ = [
    "BatchPaging",
    "Limit",
    "Offset",
    "OrderField",
    "Paging",
    "effective_limit",
    "fields_to_update",
    "invalid_update_mask",
    "order_fields",
    "parse_order_by",
]

#: Airflow's default and maximum page size.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=0)]
Offset = Annotated[int, Query(ge=0)]


class Paging(BaseModel):
    """`limit` and `offset` of a list route's query (a `Query()` model mixes this in)."""

    limit: int = Field(default=DEFAULT_LIMIT, ge=0)
    offset: int = Field(default=0, ge=0)

    def window(self) -> dict[str, int]:
        """`limit` (capped) and `offset` as a query function's keyword arguments."""
        return {"limit": effective_limit(self.limit), "offset": self.offset}


class BatchPaging(BaseModel):
    """Paging and ordering of a `.../list` batch body, as Airflow names them there."""

    order_by: str | None = None
    page_offset: int = Field(default=0, ge=0)
    page_limit: int = Field(default=100, ge=0)

    def order_terms(self, default: str) -> list[str]:
        return [self.order_by] if self.order_by else [default]

    def window(self) -> dict[str, int]:
        """`page_limit` (capped) and `page_offset` as `limit` and `offset` arguments."""
        return {"limit": effective_limit(self.page_limit), "offset": self.page_offset}


def parse_order_by(
    raw: Sequence[str], allowed: Mapping[str, str], *, tiebreak: str
) -> list[OrderField]:
    """Resolve `order_by` terms against `allowed` (API name -> column key); 400 if unknown.

    `tiebreak` (a column key) is appended so that paging is stable.
    """
    fields: list[OrderField] = []
    for term in raw:
        for name in (part.strip() for part in term.split(",")):
            if not name:
                continue
            descending = name.startswith("-")
            attribute = name.lstrip("-")
            if attribute not in allowed:
                raise HTTPException(
                    400,
                    f"Ordering with '{attribute}' is disallowed or the attribute does not "
                    f"exist on the model; supported: {', '.join(sorted(allowed))}",
                )
            fields.append(OrderField(allowed[attribute], descending))
    if not any(f.key == tiebreak for f in fields):
        fields.append(OrderField(tiebreak, fields[0].descending if fields else False))
    return fields


def order_fields(raw: Sequence[str], allowed: Collection[str], tiebreak: str) -> list[OrderField]:
    """`parse_order_by` where the API's names are the query module's keys."""
    return parse_order_by(raw, {name: name for name in allowed}, tiebreak=tiebreak)


def effective_limit(limit: int) -> int:
    """Airflow caps pages at `MAX_LIMIT` rows whatever the client asks."""
    return min(limit, MAX_LIMIT)


def invalid_update_mask(mask: list[str] | None, allowed: Collection[str]) -> HTTPException | None:
    """400 for `update_mask` names the body does not have (None when the mask is fine)."""
    unknown = sorted(set(mask or ()) - set(allowed))
    if not unknown:
        return None
    return HTTPException(400, f"Invalid fields in update_mask: {unknown}")


def fields_to_update(
    body_fields: Collection[str], mask: list[str] | None, allowed: Collection[str]
) -> set[str]:
    """The body fields a PATCH applies: those sent, narrowed by `update_mask` if given."""
    if (error := invalid_update_mask(mask, allowed)) is not None:
        raise error
    return set(body_fields) & set(mask) if mask else set(body_fields)
