"""`update_mask`: which fields of a PATCH body are written."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import HTTPException

__all__ = ["fields_to_update", "invalid_update_mask"]


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
