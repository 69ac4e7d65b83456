"""`Variable`: variables from task code, as ``from airflow.sdk import Variable`` in Airflow 3.

    from airflow_sc.sdk import Variable

    bucket = Variable.get("bucket")                                  # KeyError if absent
    limits = Variable.get("limits", default={}, deserialize_json=True)
    Variable.set("last_run", "2026-11-23")                           # into the metastore
    Variable.delete("scratch")
    bucket = await Variable.aget("bucket")                           # in an async def task

Inside a task, reads go through the execution API to the secrets chain (environment,
local files, metastore, remote backends: the first that knows the key answers) and writes
go to the metastore, encrypted. A value read this way whose key looks sensitive
(``password``, ``token``, ...) is masked in the task's log. Outside a task (a DAG file's
top-level code) only environment variables are read and writes are refused: see
`airflow_sc.sdk._task_client`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_sc.secrets.variable import Variable as _StoredVariable

from . import _task_client
from .context import VariableNotFound

__all__ = ["Variable"]

_NOTSET: Any = object()


def _decoded(key: str, raw: str | None, default: Any, deserialize_json: bool) -> Any:
    if raw is None:
        if default is _NOTSET:
            raise VariableNotFound(key)
        return default
    if not deserialize_json:
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"Variable {key!r} is not valid JSON: {exc}") from None


def _encoded(value: Any, serialize_json: bool) -> str:
    # Airflow's rule: JSON (indented) when asked, otherwise the value's text.
    return json.dumps(value, indent=2) if serialize_json else str(value)


@dataclass(frozen=True, slots=True)
class Variable(_StoredVariable):
    """A key and its text value; the class methods read and write the deployment's."""

    @classmethod
    def get(cls, key: str, default: Any = _NOTSET, deserialize_json: bool = False) -> Any:
        """The value of `key` (decoded from JSON with `deserialize_json`).

        Raises `KeyError` (`VariableNotFound`) when it does not exist and no `default`
        was given.
        """
        return _decoded(key, _task_client.get_variable(key), default, deserialize_json)

    @classmethod
    def set(
        cls,
        key: str,
        value: Any,
        description: str | None = None,
        serialize_json: bool = False,
    ) -> None:
        """Create or replace `key` in the metastore (`serialize_json`: store `value` as JSON).

        A variable defined in the environment or a local file still wins on reads.
        """
        _task_client.set_variable(key, _encoded(value, serialize_json), description)

    @classmethod
    def delete(cls, key: str) -> bool:
        """Delete `key` from the metastore; ``False`` when it was not there."""
        return _task_client.delete_variable(key)

    @classmethod
    async def aget(cls, key: str, default: Any = _NOTSET, deserialize_json: bool = False) -> Any:
        """`get` for ``async def`` tasks: never blocks the event loop."""
        raw = await _task_client.aget_variable(key)
        return _decoded(key, raw, default, deserialize_json)

    @classmethod
    async def aset(
        cls,
        key: str,
        value: Any,
        description: str | None = None,
        serialize_json: bool = False,
    ) -> None:
        """`set` for ``async def`` tasks."""
        await _task_client.aset_variable(key, _encoded(value, serialize_json), description)

    @classmethod
    async def adelete(cls, key: str) -> bool:
        """`delete` for ``async def`` tasks."""
        return await _task_client.adelete_variable(key)
