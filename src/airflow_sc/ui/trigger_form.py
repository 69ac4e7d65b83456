"""The trigger form, decided in plain code: the DAG's params (their JSON schemas) become
typed fields, and a submitted form becomes a conf, a logical date and a run id, or errors
by field.

A field left empty passes no value, so the param's default applies (or the param's
"no value passed" error shows next to it). Each field's value is checked against its own
param's schema, so an error names the field it belongs to. The conf box takes a JSON
object for keys no field covers; the fields' values win over the same keys in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from airflow_sc.sdk.params import NOTSET, Param, ParamValidationError
from airflow_sc.secrets import SecretsMasker

__all__ = ["FormField", "TriggerRequest", "form_fields", "read_trigger_form"]

Kind = Literal["integer", "number", "boolean", "select", "json", "text"]

#: The form's own fields, beside one per param (params cannot take these names).
CONF, LOGICAL_DATE, RUN_ID = "conf", "logical_date", "run_id"
PARAM_PREFIX = "param."


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    kind: Kind
    description: str | None
    #: The value the input shows (the default, as text), "" for none.
    value: str
    options: tuple[str, ...] = ()
    required: bool = False
    #: A sensitive param's default is not shown; left empty, the default is used.
    hidden_default: bool = False

    @property
    def input_name(self) -> str:
        return PARAM_PREFIX + self.name


@dataclass
class TriggerRequest:
    conf: dict[str, Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    run_id: str | None = None
    #: Field name (a param's name, or conf / logical_date / run_id) -> what is wrong.
    errors: dict[str, str] = field(default_factory=dict)


def _kind(schema: Mapping[str, Any]) -> Kind:
    if "enum" in schema:
        return "select"
    kind = schema.get("type")
    if isinstance(kind, list):
        named = [k for k in kind if k != "null"]
        kind = named[0] if len(named) == 1 else None
    if kind in ("integer", "number", "boolean"):
        return kind  # type: ignore[no-any-return]
    if kind == "string":
        return "text"
    return "json"


def _as_text(kind: Kind, value: Any) -> str:
    if value is NOTSET or value is None:
        return ""
    if kind == "json" or (kind == "select" and not isinstance(value, str)):
        return json.dumps(value)
    if kind == "boolean":
        return "true" if value else "false"
    return str(value)


def form_fields(params: Mapping[str, Mapping[str, Any]], masker: SecretsMasker) -> list[FormField]:
    """One field per param, in the DAG's order."""
    fields = []
    for name, dumped in params.items():
        param = Param.load(dumped)
        kind = _kind(param.schema)
        sensitive = masker.is_sensitive_key(name) and param.value is not NOTSET
        options = tuple(_as_text("text", v) for v in param.schema.get("enum", ()))
        fields.append(
            FormField(
                name=name,
                kind=kind,
                description=param.description,
                value="" if sensitive else _as_text(kind, param.value),
                options=options,
                required=param.value is NOTSET,
                hidden_default=sensitive,
            )
        )
    return fields


def _typed(kind: Kind, raw: str, enum: list[Any]) -> Any:
    """The value `raw` stands for; raises ValueError with the reason."""
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == "boolean":
        return raw == "true"
    if kind == "select":
        for option in enum:
            if _as_text("text", option) == raw:
                return option
        raise ValueError("must be one of the listed values")
    if kind == "json":
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError("must be JSON") from None
    return raw


def read_trigger_form(
    params: Mapping[str, Mapping[str, Any]], form: Mapping[str, list[str]]
) -> TriggerRequest:
    """What the submitted form asks for, checked; `errors` is empty when it may run."""
    request = TriggerRequest()
    raw_conf = (form.get(CONF) or [""])[0].strip()
    extra: Any = {}
    if raw_conf:
        try:
            extra = json.loads(raw_conf)
        except ValueError as exc:
            request.errors[CONF] = f"not valid JSON: {exc}"
        if not isinstance(extra, dict):
            request.errors.setdefault(CONF, "must be a JSON object")
            extra = {}
    conf: dict[str, Any] = dict(extra)
    for name, dumped in params.items():
        param = Param.load(dumped)
        kind = _kind(param.schema)
        values = form.get(PARAM_PREFIX + name)
        raw = (values or [""])[-1]
        value: Any = NOTSET
        if kind == "boolean":
            value = raw == "true"
        elif raw != "":
            try:
                value = _typed(kind, raw, list(param.schema.get("enum", ())))
            except ValueError as exc:
                request.errors[name] = str(exc)
                continue
        elif name in conf:
            value = conf[name]
        try:
            param.resolve(value, name=name)
        except ParamValidationError as exc:
            request.errors[name] = str(exc)
            continue
        if value is NOTSET:
            conf.pop(name, None)
        else:
            conf[name] = value
    request.conf = conf
    raw_date = (form.get(LOGICAL_DATE) or [""])[0].strip()
    if raw_date:
        try:
            parsed = datetime.fromisoformat(raw_date)
        except ValueError:
            request.errors[LOGICAL_DATE] = "must be a date and time (YYYY-MM-DDTHH:MM)"
        else:
            request.logical_date = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    request.run_id = (form.get(RUN_ID) or [""])[0].strip() or None
    return request
