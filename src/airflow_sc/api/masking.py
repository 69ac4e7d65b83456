"""What the API shows of secret values: `***` in place of anything sensitive."""

from __future__ import annotations

import json
from typing import Any

from airflow_sc.secrets import MASK, SecretsMasker

__all__ = ["masked_extra", "masked_password", "masked_variable_value"]


def masked_variable_value(masker: SecretsMasker, key: str, value: str | None) -> str | None:
    """A variable's value for display: hidden when its key looks sensitive; a JSON value
    keeps its shape with sensitive members hidden."""
    if value is None:
        return None
    if masker.is_sensitive_key(key):
        return MASK
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        return masker.mask(value)
    if isinstance(parsed, dict | list):
        return json.dumps(masker.redact(parsed))
    return masker.mask(value)


def masked_password(password: str | None) -> str | None:
    return None if password is None else MASK


def masked_extra(masker: SecretsMasker, extra: str | None) -> str | None:
    """A connection's extra with its sensitive members hidden (all of it if not JSON)."""
    if not extra:
        return None
    try:
        parsed: Any = json.loads(extra)
    except ValueError:
        return MASK
    if not isinstance(parsed, dict):
        return MASK
    return json.dumps(masker.redact(parsed))
