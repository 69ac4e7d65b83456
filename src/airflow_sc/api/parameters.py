"""Query parameters shared by list routes: paging and ordering, as Airflow spells them.

`order_by` is a list of attribute names, each optionally prefixed by `-` for descending
order; each route maps the names it supports to columns (`parse_order_by` is pure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query

__all__ = ["Limit", "Offset", "OrderField", "parse_order_by"]

#: Airflow's default and maximum page size.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=0)]
Offset = Annotated[int, Query(ge=0)]


@dataclass(frozen=True, slots=True)
class OrderField:
    """One `order_by` term: a column key the query module understands, and its direction."""

    key: str
    descending: bool


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


def effective_limit(limit: int) -> int:
    """Airflow caps pages at `MAX_LIMIT` rows whatever the client asks."""
    return min(limit, MAX_LIMIT)
