"""`literal`: a value passed to a templated field that templating leaves as it is."""

from __future__ import annotations

from typing import Any

__all__ = ["LiteralValue", "literal"]


class LiteralValue:
    """A value that templating leaves as it is (see `literal`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"literal({self.value!r})"


def literal(value: Any) -> LiteralValue:
    """Pass `value` to a templated field without rendering it: ``literal("{{ not me }}")``."""
    return LiteralValue(value)
