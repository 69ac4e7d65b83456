"""The admin pages' forms, decided in plain code: which fields a variable, connection or
pool form has (masked values never sent to the browser), and what a submitted form asks
the API's actions to write.

A value the API would show masked (`***` anywhere in it) is never put in a field: the
field stays empty and leaving it empty keeps the stored value. A connection's extra is
shown with its sensitive members as `***`; a member submitted as `***` keeps its stored
value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_sc.secrets import MASK

__all__ = [
    "AdminField",
    "Submitted",
    "connection_fields",
    "merge_masked_extra",
    "pool_fields",
    "read_submitted",
    "variable_fields",
]

Kind = Literal["text", "textarea", "number", "password", "checkbox"]


@dataclass(frozen=True, slots=True)
class AdminField:
    name: str
    label: str
    kind: Kind = "text"
    value: str = ""
    hint: str = ""
    required: bool = False
    #: Shown but not editable (the key of an existing entry).
    readonly: bool = False
    error: str | None = None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _hidden(shown: str | None) -> bool:
    return shown is not None and MASK in shown


def variable_fields(row: Mapping[str, Any] | None) -> list[AdminField]:
    """`row`: the API's response for the variable (masked), None for a new one."""
    shown = None if row is None else row.get("value")
    hidden = _hidden(shown)
    return [
        AdminField(
            "key", "Key", required=True, readonly=row is not None, value=_text(row and row["key"])
        ),
        AdminField(
            "value",
            "Value",
            "textarea",
            value="" if hidden else _text(shown),
            hint="Hidden (sensitive): leave empty to keep the stored value." if hidden else "",
        ),
        AdminField("description", "Description", "textarea", _text(row and row.get("description"))),
    ]


def connection_fields(row: Mapping[str, Any] | None) -> list[AdminField]:
    """`row`: the API's response for the connection (masked), None for a new one."""
    r = row or {}
    has_password = r.get("password") is not None
    extra = _text(r.get("extra"))
    return [
        AdminField(
            "connection_id",
            "Connection id",
            required=True,
            readonly=row is not None,
            value=_text(r.get("connection_id")),
            hint="Letters, digits, _ . and -",
        ),
        AdminField("conn_type", "Connection type", required=True, value=_text(r.get("conn_type"))),
        AdminField("description", "Description", "textarea", _text(r.get("description"))),
        AdminField("host", "Host", value=_text(r.get("host"))),
        AdminField("schema", "Schema", value=_text(r.get("schema"))),
        AdminField("login", "Login", value=_text(r.get("login"))),
        AdminField(
            "password",
            "Password",
            "password",
            hint="Stored: leave empty to keep it." if has_password else "",
        ),
        *(
            [AdminField("clear_password", "Remove the stored password", "checkbox")]
            if has_password
            else []
        ),
        AdminField("port", "Port", "number", _text(r.get("port"))),
        AdminField(
            "extra",
            "Extra (JSON object)",
            "textarea",
            "" if extra == MASK else extra,
            hint=(
                "Hidden (not a JSON object): leave empty to keep it."
                if extra == MASK
                else "A member shown as *** keeps its stored value."
                if MASK in extra
                else ""
            ),
        ),
    ]


def pool_fields(row: Mapping[str, Any] | None) -> list[AdminField]:
    r = row or {}
    return [
        AdminField(
            "name", "Name", required=True, readonly=row is not None, value=_text(r.get("name"))
        ),
        AdminField(
            "slots",
            "Slots",
            "number",
            _text(r.get("slots", 128)),
            required=True,
            hint="-1: unlimited",
        ),
        AdminField("description", "Description", "textarea", _text(r.get("description"))),
        AdminField(
            "include_deferred",
            "Deferred tasks take slots",
            "checkbox",
            "true" if r.get("include_deferred") else "",
        ),
    ]


@dataclass(frozen=True, slots=True)
class Submitted:
    """A form read back: each field's text, which fields were sent, and the fields as
    they are shown again when the form has an error."""

    values: dict[str, str]
    fields: list[AdminField] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def read_submitted(fields: list[AdminField], form: Mapping[str, list[str]]) -> Submitted:
    """The submitted text of `fields` (a checkbox: "true" or ""); the fields refilled
    with what was typed (never a password)."""
    values: dict[str, str] = {}
    refilled: list[AdminField] = []
    for f in fields:
        given = (form.get(f.name) or [""])[0]
        if f.kind == "checkbox":
            given = "true" if given == "true" else ""
        if f.readonly:
            given = f.value
        values[f.name] = given
        shown = "" if f.kind == "password" else given
        refilled.append(AdminField(f.name, f.label, f.kind, shown, f.hint, f.required, f.readonly))
    return Submitted(values, refilled)


def with_errors(fields: list[AdminField], errors: Mapping[str, str]) -> list[AdminField]:
    return [
        AdminField(
            f.name, f.label, f.kind, f.value, f.hint, f.required, f.readonly, errors.get(f.name)
        )
        for f in fields
    ]


def merge_masked_extra(submitted: str, stored: str | None) -> str:
    """`submitted` (a JSON object as text) with each member given as `***` (at any depth)
    replaced by the stored extra's member at that place. Raises ValueError when
    `submitted` is not a JSON object."""
    parsed = json.loads(submitted)
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object")
    try:
        old: Any = json.loads(stored) if stored else {}
    except ValueError:
        old = {}
    if not isinstance(old, dict):
        old = {}
    return json.dumps(_restore(parsed, old))


def _restore(new: Any, old: Any) -> Any:
    if new == MASK and old is not None:
        return old
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _restore(v, old.get(k)) for k, v in new.items()}
    return new
