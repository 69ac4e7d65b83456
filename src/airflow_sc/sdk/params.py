"""DAG params: named, JSON-schema-validated inputs a run can override through its conf.

Semantics follow Airflow: a `Param` holds a default and a JSON schema; a param with no
default is required when a run is triggered (unless its schema allows ``null``); values must
be JSON-serializable. Reading a `ParamsDict` by key gives the value, `get_param` the `Param`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Final

import jsonschema
from jsonschema import FormatChecker

__all__ = ["NOTSET", "ArgNotSet", "Param", "ParamValidationError", "ParamsDict"]


class ArgNotSet:
    """The type of `NOTSET`: "no value given", distinct from ``None``."""

    _instance: ArgNotSet | None = None

    def __new__(cls) -> ArgNotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> ArgNotSet:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ArgNotSet:
        return self


NOTSET: Final = ArgNotSet()


class ParamValidationError(ValueError):
    """A param's value is missing or does not match its schema; the message says which and why."""


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    dt.datetime.fromisoformat(value)
    return "T" in value or " " in value


def _is_date(value: object) -> bool:
    if isinstance(value, str):
        dt.date.fromisoformat(value)
    return True


def _is_time(value: object) -> bool:
    if isinstance(value, str):
        dt.time.fromisoformat(value)
    return True


def _format_checker() -> FormatChecker:
    """jsonschema's checkers plus the date/time formats Airflow's trigger form produces."""
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("date", raises=ValueError)(_is_date)
    checker.checks("time", raises=ValueError)(_is_time)
    return checker


_FORMATS: Final = _format_checker()


def _check_json(name: str | None, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        where = f"param {name!r}" if name else "a param"
        raise ParamValidationError(
            f"Invalid input for {where}: value {value!r} is not JSON-serializable ({exc})"
        ) from None


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null":
        return True
    return isinstance(kind, list) and "null" in kind


class Param:
    """A default value and the JSON schema every value of this param must satisfy.

    ``Param(5, type="integer", minimum=0)``; ``Param(description="...", type="string")`` is
    required at trigger time. Schema keywords are JSON Schema's (``type``, ``enum``,
    ``minimum``, ``format``, ...); unknown keywords (UI hints) are kept and ignored.
    """

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        if default is not NOTSET:
            _check_json(None, default)
        self.value: Any = default
        self.description = description
        self.schema: dict[str, Any] = dict(schema)
        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise ParamValidationError(f"Invalid param schema: {exc.message}") from None

    @property
    def has_value(self) -> bool:
        """Whether the param has a value without a run's conf."""
        return self.value is not NOTSET or _allows_null(self.schema)

    def resolve(self, value: Any = NOTSET, *, name: str | None = None) -> Any:
        """`value` (or the default when NOTSET) after validation; raises `ParamValidationError`."""
        where = f"param {name!r}" if name else "param"
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            if not _allows_null(self.schema):
                raise ParamValidationError(
                    f"Invalid input for {where}: no value passed and it has no default value"
                )
            final = None
        _check_json(name, final)
        try:
            jsonschema.validate(final, self.schema, format_checker=_FORMATS)
        except jsonschema.ValidationError as exc:
            raise ParamValidationError(f"Invalid input for {where}: {exc.message}") from None
        return final

    def dump(self) -> dict[str, Any]:
        """JSON-serializable form: default (when set), description and schema."""
        dumped: dict[str, Any] = {"description": self.description, "schema": dict(self.schema)}
        if self.value is not NOTSET:
            dumped["default"] = self.value
        return dumped

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Param:
        """Rebuild a param from `dump()`."""
        return cls(data.get("default", NOTSET), data.get("description"), **data.get("schema", {}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return (self.value, self.description, self.schema) == (
            other.value,
            other.description,
            other.schema,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"


class ParamsDict(MutableMapping[str, Any]):
    """Params by name. ``params["x"]`` is the value; plain values are wrapped in a `Param`."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Param] = {}
        for name, value in (params or {}).items():
            self[name] = value

    # -- mapping of values ---------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        param = self._params[name]
        return None if param.value is NOTSET else param.value

    def __setitem__(self, name: str, value: Any) -> None:
        """Add a `Param`, wrap a plain value, or set a new value on an existing param."""
        if isinstance(value, Param):
            self._params[name] = value
        elif name in self._params:
            param = copy.copy(self._params[name])
            param.value = param.resolve(value, name=name)
            self._params[name] = param
        else:
            _check_json(name, value)
            self._params[name] = Param(value)

    def __delitem__(self, name: str) -> None:
        del self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ParamsDict):
            return self._params == other._params
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    # -- params --------------------------------------------------------------------------------

    def get_param(self, name: str) -> Param:
        """The `Param` object behind `name`."""
        return self._params[name]

    def params(self) -> dict[str, Param]:
        """A copy of the name -> `Param` mapping."""
        return dict(self._params)

    def copy(self) -> ParamsDict:
        """An independent copy (params are copied too)."""
        new = ParamsDict()
        new._params = {name: copy.deepcopy(param) for name, param in self._params.items()}
        return new

    def validate(self) -> dict[str, Any]:
        """Every param's value, validated; `ParamValidationError` names the first bad one."""
        return {name: param.resolve(name=name) for name, param in self._params.items()}

    def resolve(self, conf: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Values for one run: `conf` over the defaults (extra keys kept), validated."""
        conf = conf or {}
        resolved = {
            name: param.resolve(conf.get(name, NOTSET), name=name)
            for name, param in self._params.items()
        }
        for name, value in conf.items():
            if name not in self._params:
                _check_json(name, value)
                resolved[name] = value
        return resolved

    def dump(self) -> dict[str, Any]:
        """JSON-serializable form of every param (see `Param.dump`)."""
        return {name: param.dump() for name, param in self._params.items()}

    @classmethod
    def load(cls, dumped: Mapping[str, Mapping[str, Any]]) -> ParamsDict:
        """Rebuild what `dump()` returned."""
        return cls({name: Param.load(data) for name, data in dumped.items()})
