"""Variables: named values for DAGs, stored as text (JSON text for structured values)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Variable"]


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable as backends hold it: the value is always text, like Airflow's."""

    key: str
    value: str = field(repr=False)
    description: str | None = None

    @classmethod
    def from_json_value(cls, key: str, value: Any, description: str | None = None) -> Variable:
        """A structured value stored as JSON text (`Variable.set(..., serialize_json=True)`)."""
        return cls(key, json.dumps(value), description)

    def json_value(self) -> Any:
        """The value decoded as JSON (`{{ var.json.key }}`); raises `ValueError` if it is not."""
        return json.loads(self.value)


def text_value(value: Any) -> str:
    """A value read from a JSON/YAML file as variable text: strings as-is, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
