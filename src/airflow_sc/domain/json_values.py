"""What text and JSON values may be stored, and how stored values are shown.

Incoming values are refused, with the reason, when a string (a key or a value, at any
depth) holds a NUL character or an unpaired surrogate, when a number is NaN or infinite,
or when containers nest deeper than allowed: PostgreSQL cannot store the first two, JSON
has no NaN, and a document nested too deeply cannot be serialized again.

Values already stored (by older versions, or written around the API) are shown through
`renderable`, which never fails: unpaired surrogates become U+FFFD and containers nested
past the limit are replaced by a note saying so.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = [
    "RENDER_DEPTH_LIMIT",
    "TOO_DEEP_NOTE",
    "document_problem",
    "renderable",
    "renderable_text",
    "text_problem",
]

#: Containers nested deeper than this are not shown. Pydantic refuses to serialize past 255
#: levels, and a response wraps a stored document in a few levels of its own.
RENDER_DEPTH_LIMIT: Final = 200
#: What `renderable` shows in place of a container nested past the limit.
TOO_DEEP_NOTE: Final = f"<nested deeper than {RENDER_DEPTH_LIMIT} levels: not shown>"

# A str holds a surrogate code point only unpaired: JSON decoding and UTF-8 decoding join
# pairs into one code point.
_FORBIDDEN: Final = re.compile("[\x00\ud800-\udfff]")
_SURROGATES: Final = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why `text` may not be stored, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return "contains an unpaired surrogate (not valid Unicode text)"


def document_problem(value: Any, *, max_depth: int, where: str = "body") -> str | None:
    """Why the decoded JSON `value` may not be stored, or None; the reason names where.

    Depth counts containers: a scalar is depth 0, `{"a": 1}` depth 1.
    """
    stack: list[tuple[Any, int, str]] = [(value, 0, where)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                return f"{path}: {problem}"
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return f"{path}: NaN and Infinity are not JSON numbers"
        elif isinstance(item, dict | list):
            if depth + 1 > max_depth:
                return f"{path}: nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and (problem := text_problem(key)) is not None:
                        return f"{path}: key {key!r} {problem}"
                    stack.append((child, depth + 1, f"{path}.{key}"))
            else:
                stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def renderable_text(text: str) -> str:
    """`text` with unpaired surrogates replaced by U+FFFD (it can then be encoded)."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def renderable(value: Any, *, max_depth: int = RENDER_DEPTH_LIMIT) -> Any:
    """A stored JSON value made safe to serialize: the same value when it already is."""
    return _renderable(value, max_depth)


def _renderable(value: Any, depth_left: int) -> Any:
    if isinstance(value, str):
        return renderable_text(value)
    if isinstance(value, dict):
        if depth_left <= 0:
            return TOO_DEEP_NOTE
        return {
            renderable_text(k) if isinstance(k, str) else k: _renderable(v, depth_left - 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        if depth_left <= 0:
            return TOO_DEEP_NOTE
        return [_renderable(v, depth_left - 1) for v in value]
    return value
