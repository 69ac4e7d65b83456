"""Tables, JSON, YAML and plain text for CLI output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

FORMATS = ("table", "json", "yaml", "plain")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=_cell)
    return str(value)


def _yaml(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    # JSON scalars are YAML scalars: a list of flat mappings needs no YAML library.
    if not rows:
        return "[]"
    lines = []
    for row in rows:
        for i, column in enumerate(columns):
            value = json.dumps(row.get(column), default=_cell)
            lines.append(f"{'- ' if i == 0 else '  '}{column}: {value}")
    return "\n".join(lines)


def render(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """`rows` as an aligned table, JSON (a list of objects), YAML or tab-separated text."""
    if fmt == "json":
        return json.dumps(
            [{c: row.get(c) for c in columns} for row in rows], default=_cell, indent=2
        )
    if fmt == "yaml":
        return _yaml(rows, columns)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if fmt == "plain":
        return "\n".join("\t".join(line) for line in cells)
    if not rows:
        return "No data found"
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    header = " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "=+=".join("=" * w for w in widths)
    body = [" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join([header, rule, *body])
