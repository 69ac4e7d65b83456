"""Secrets from local files, like Airflow's LocalFilesystemBackend.

Formats, chosen by extension:
- `.json`: an object; `{"key": value}`.
- `.yaml` / `.yml`: the same as a mapping (needs PyYAML; without it, a clear error).
- `.env`: `KEY=VALUE` lines; blank lines and lines starting with `#` are skipped.

Variables: a value that is not text is stored as its JSON text. Connections: a value is a
URI, Airflow's JSON text, or (JSON/YAML) an object of connection fields, where `extra` may
be an object and `extra_dejson` is accepted as Airflow allows.

Files are read and parsed in a worker thread, never on the event loop. A file is parsed
again only when its size, mtime or inode changes; a missing file is an error (a typo in a
path must not look like "no secrets").
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.errors import ConnectionFormatError, SecretsFileError
from airflow_sc.secrets.variable import text_value

__all__ = [
    "LocalFileBackend",
    "connections_from_mapping",
    "parse_secrets_text",
    "variables_from_mapping",
]


def parse_secrets_text(text: str, *, suffix: str, source: str) -> dict[str, Any]:
    """Parse a secrets file's content by extension; `source` names the file in errors."""
    suffix = suffix.lower()
    if suffix == ".env":
        return _parse_env(text, source)
    if suffix == ".json":
        try:
            content = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise SecretsFileError(f"{source}: invalid JSON: {exc}") from None
    elif suffix in (".yaml", ".yml"):
        content = _parse_yaml(text, source)
    else:
        raise SecretsFileError(
            f"{source}: unsupported file extension {suffix!r} (use .json, .yaml, .yml or .env)"
        )
    if not isinstance(content, dict):
        raise SecretsFileError(f"{source}: the file must hold an object (key -> value)")
    return content


def variables_from_mapping(content: Mapping[str, Any], *, source: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for key, value in content.items():
        if isinstance(value, _Repeated):
            raise SecretsFileError(f"{source}: variable {key!r} is defined more than once")
        variables[str(key)] = text_value(value)
    return variables


def connections_from_mapping(content: Mapping[str, Any], *, source: str) -> dict[str, Connection]:
    connections: dict[str, Connection] = {}
    for conn_id, value in content.items():
        if isinstance(value, _Repeated):
            raise SecretsFileError(f"{source}: connection {conn_id!r} is defined more than once")
        try:
            connections[conn_id] = _connection(str(conn_id), value)
        except ConnectionFormatError as exc:
            raise SecretsFileError(f"{source}: {exc}") from None
    return connections


def _connection(conn_id: str, value: Any) -> Connection:
    if isinstance(value, str):
        return Connection.deserialize(conn_id, value)
    if isinstance(value, dict):
        fields = dict(value)
        if "extra_dejson" in fields:
            if "extra" in fields:
                raise ConnectionFormatError(
                    f"connection {conn_id!r}: give either extra or extra_dejson, not both"
                )
            fields["extra"] = fields.pop("extra_dejson")
        return Connection.from_dict(conn_id, fields)
    raise ConnectionFormatError(
        f"connection {conn_id!r}: expected a URI or an object, got {type(value).__name__}"
    )


class _Repeated(list[str]):
    """Every value of a key that a .env file defines more than once."""


def _parse_env(text: str, source: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            errors.append(f"{source}:{number}: expected KEY=VALUE")
        elif not key:
            errors.append(f"{source}:{number}: the key is empty")
        elif key in found:
            previous = found[key]
            found[key] = _Repeated(
                [*previous, value.strip()]
                if isinstance(previous, _Repeated)
                else [previous, value.strip()]
            )
        else:
            found[key] = value.strip()
    if errors:
        raise SecretsFileError("; ".join(errors))
    return found


def _parse_yaml(text: str, source: str) -> Any:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise SecretsFileError(
            f"{source}: reading YAML needs PyYAML, which is not installed "
            "(pip install pyyaml, or use a .json or .env file)"
        ) from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SecretsFileError(f"{source}: invalid YAML: {exc}") from None


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int, int]
    values: Mapping[str, Any]


class _WatchedFile:
    """A file parsed in a worker thread, re-parsed when it changes."""

    def __init__(self, path: Path, build: Callable[[Mapping[str, Any], str], Mapping[str, Any]]):
        self.path = path
        self._build = build
        self._loaded: _Loaded | None = None

    async def values(self) -> Mapping[str, Any]:
        loaded = await anyio.to_thread.run_sync(self._load, self._loaded)
        self._loaded = loaded
        return loaded.values

    def _load(self, previous: _Loaded | None) -> _Loaded:
        source = str(self.path)
        try:
            status = os.stat(self.path)
            stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
            if previous is not None and previous.stamp == stamp:
                return previous
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretsFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
        content = parse_secrets_text(text, suffix=self.path.suffix, source=source)
        return _Loaded(stamp, self._build(content, source))


class LocalFileBackend(SecretsBackend):
    """Variables and connections from files; either path may be None."""

    name = "local_file"

    def __init__(
        self,
        *,
        variables_file: Path | None = None,
        connections_file: Path | None = None,
    ) -> None:
        self._variables = (
            None
            if variables_file is None
            else _WatchedFile(variables_file, lambda c, s: variables_from_mapping(c, source=s))
        )
        self._connections = (
            None
            if connections_file is None
            else _WatchedFile(connections_file, lambda c, s: connections_from_mapping(c, source=s))
        )

    async def get_connection(self, conn_id: str) -> Connection | None:
        if self._connections is None:
            return None
        found: Connection | None = (await self._connections.values()).get(conn_id)
        return found

    async def get_variable(self, key: str) -> str | None:
        if self._variables is None:
            return None
        found: str | None = (await self._variables.values()).get(key)
        return found
