"""Build `Settings` from defaults, `$AIRFLOW_SC_HOME/airflow-sc.toml` and the environment.

Precedence, lowest first: dataclass defaults, the TOML file, `AIRFLOW_SC__<SECTION>__<KEY>`
environment variables. Unknown sections or keys are errors (a typo must not be ignored).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from airflow_sc.config.errors import ConfigError
from airflow_sc.config.settings import Settings
from airflow_sc.domain.json_values import RENDER_DEPTH_LIMIT

ENV_PREFIX = "AIRFLOW_SC__"
HOME_ENV = "AIRFLOW_SC_HOME"
CONFIG_FILE_NAME = "airflow-sc.toml"


def without_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without airflow-sc's settings variables (``AIRFLOW_SC__*``: the database
    URL, signing secrets): the environment of processes that run user code (task workers,
    DAG parsers), which reach what they need otherwise."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(ENV_PREFIX)}


def resolve_home(environ: Mapping[str, str], cwd: Path) -> Path:
    """`$AIRFLOW_SC_HOME`; else `./.airflow-sc` in an airflow-sc checkout; else `~/airflow-sc`."""
    if home := environ.get(HOME_ENV):
        return Path(home).expanduser().resolve()
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and 'name = "airflow-sc"' in pyproject.read_text(errors="replace"):
        return cwd / ".airflow-sc"
    return Path("~/airflow-sc").expanduser()


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Read the settings once. `overrides` maps `section.key` to a value (CLI flags, tests)."""
    environ = os.environ if environ is None else environ
    home = resolve_home(environ, cwd or Path.cwd())
    layers: list[tuple[str, dict[str, dict[str, object]]]] = []
    config_file = home / CONFIG_FILE_NAME
    if config_file.is_file():
        try:
            data = tomllib.loads(config_file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML: {exc}") from exc
        layers.append((str(config_file), _check_sections(data, str(config_file))))
    layers.append(("environment", _from_environ(environ)))
    if overrides:
        layers.append(("command line", _from_dotted(overrides)))
    return _build(home, layers)


def _check_sections(data: dict[str, Any], source: str) -> dict[str, dict[str, object]]:
    for name, section in data.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of settings")
    return data


def _from_environ(environ: Mapping[str, str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        section, sep, key = name[len(ENV_PREFIX) :].partition("__")
        if not sep or not section or not key:
            raise ConfigError(f"{name}: expected AIRFLOW_SC__<SECTION>__<KEY>")
        out.setdefault(section.lower(), {})[key.lower()] = value
    return out


def _from_dotted(values: Mapping[str, object]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for dotted, value in values.items():
        section, _, key = dotted.partition(".")
        out.setdefault(section, {})[key] = value
    return out


def _build(home: Path, layers: list[tuple[str, dict[str, dict[str, object]]]]) -> Settings:
    sections: dict[str, Any] = {}
    section_types = typing.get_type_hints(Settings)
    for section_field in dataclasses.fields(Settings):
        cls = section_types[section_field.name]
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for source, layer in layers:
            for key, raw in layer.get(section_field.name, {}).items():
                if key not in known:
                    raise ConfigError(
                        f"unknown setting {section_field.name}.{key} (from {source}); "
                        f"known keys: {', '.join(sorted(known))}"
                    )
                values[key] = _coerce(hints[key], raw, f"{section_field.name}.{key}", source)
        if section_field.name == "core":
            values.setdefault("home", home)
        sections[section_field.name] = cls(**values)
    for _, layer in layers:
        for name in layer:
            if name not in sections:
                raise ConfigError(
                    f"unknown settings section [{name}]; known: {', '.join(sections)}"
                )
    settings = Settings(**sections)
    _validate(settings)
    return settings


def _coerce(tp: Any, raw: object, key: str, source: str) -> object:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"invalid value for {key} (from {source}): {raw!r}; expected {expected}")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw is None or raw == "":
            return None
        (tp,) = options
        origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        value = raw.strip() if isinstance(raw, str) else raw
        if isinstance(value, str) and value.upper() in choices:
            value = value.upper()
        if value not in choices:
            raise fail("one of " + ", ".join(repr(c) for c in choices))
        return value
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise fail("a boolean (true/false)")
    if tp is int:
        if isinstance(raw, bool):
            raise fail("an integer")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise fail("an integer") from None
    if tp is float:
        if isinstance(raw, bool):
            raise fail("a number of seconds")
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise fail("a number of seconds") from None
        if not math.isfinite(value):
            raise fail("a finite number")
        return value
    if tp is Path:
        if not isinstance(raw, str | Path) or not str(raw).strip():
            raise fail("a path")
        return Path(str(raw)).expanduser()
    if tp is str:
        if not isinstance(raw, str):
            raise fail("a string")
        return raw
    raise TypeError(f"unsupported settings type {tp!r} for {key}")  # pragma: no cover


def _validate(settings: Settings) -> None:
    def check(ok: bool, key: str, value: object, expected: str) -> None:
        if not ok:
            raise ConfigError(f"invalid value for {key}: {value!r}; expected {expected}")

    check(
        settings.core.parallelism >= 1,
        "core.parallelism",
        settings.core.parallelism,
        "an integer >= 1",
    )
    check(
        settings.core.shutdown_grace >= 0,
        "core.shutdown_grace",
        settings.core.shutdown_grace,
        "seconds >= 0",
    )
    check(
        settings.database.pool_size >= 1,
        "database.pool_size",
        settings.database.pool_size,
        "an integer >= 1",
    )
    check(
        settings.database.statement_timeout > 0,
        "database.statement_timeout",
        settings.database.statement_timeout,
        "seconds > 0",
    )
    check(0 <= settings.api.port <= 65535, "api.port", settings.api.port, "a TCP port (0-65535)")
    check(
        settings.api.drain_timeout >= 0,
        "api.drain_timeout",
        settings.api.drain_timeout,
        "seconds >= 0",
    )
    check(
        settings.api.access_token_expiry > 0,
        "api.access_token_expiry",
        settings.api.access_token_expiry,
        "seconds > 0",
    )
    check(
        settings.api.max_request_body_size >= 1024,
        "api.max_request_body_size",
        settings.api.max_request_body_size,
        "bytes >= 1024",
    )
    check(
        1 <= settings.api.max_request_json_depth <= RENDER_DEPTH_LIMIT,
        "api.max_request_json_depth",
        settings.api.max_request_json_depth,
        f"an integer from 1 to {RENDER_DEPTH_LIMIT}",
    )
    check(
        settings.api.max_concurrent_requests >= 1,
        "api.max_concurrent_requests",
        settings.api.max_concurrent_requests,
        "an integer >= 1",
    )
    check(
        settings.api.list_cache_max_age >= 0,
        "api.list_cache_max_age",
        settings.api.list_cache_max_age,
        "seconds >= 0",
    )
    try:
        re.compile(settings.scheduler.allowed_run_id_pattern)
        pattern_ok = True
    except re.error:
        pattern_ok = False
    check(
        pattern_ok,
        "scheduler.allowed_run_id_pattern",
        settings.scheduler.allowed_run_id_pattern,
        "a regular expression",
    )
    secret_key = settings.api.secret_key
    check(
        secret_key is None or len(secret_key.strip()) >= 16,
        "api.secret_key",
        "<hidden>",
        "at least 16 characters (or unset, to generate one under core.home)",
    )
    check(
        settings.scheduler.heartbeat_interval > 0,
        "scheduler.heartbeat_interval",
        settings.scheduler.heartbeat_interval,
        "seconds > 0",
    )
    check(
        settings.scheduler.heartbeat_timeout > settings.scheduler.heartbeat_interval,
        "scheduler.heartbeat_timeout",
        settings.scheduler.heartbeat_timeout,
        "more seconds than scheduler.heartbeat_interval",
    )
    check(
        settings.scheduler.sweep_interval > 0,
        "scheduler.sweep_interval",
        settings.scheduler.sweep_interval,
        "seconds > 0",
    )
    check(
        settings.scheduler.task_queued_timeout > 0,
        "scheduler.task_queued_timeout",
        settings.scheduler.task_queued_timeout,
        "seconds > 0",
    )
    processor = settings.dag_processor
    check(
        processor.parsing_processes >= 1,
        "dag_processor.parsing_processes",
        processor.parsing_processes,
        "an integer >= 1",
    )
    check(
        processor.file_parse_timeout > 0,
        "dag_processor.file_parse_timeout",
        processor.file_parse_timeout,
        "seconds > 0",
    )
    check(
        processor.max_memory_mb >= 0,
        "dag_processor.max_memory_mb",
        processor.max_memory_mb,
        "MiB >= 0",
    )
    check(
        processor.refresh_interval > 0,
        "dag_processor.refresh_interval",
        processor.refresh_interval,
        "seconds > 0",
    )
    executor = settings.executor
    check(
        executor.inprocess_capacity >= 1,
        "executor.inprocess_capacity",
        executor.inprocess_capacity,
        "an integer >= 1",
    )
    for key, seconds in (
        ("executor.blocking_threshold", executor.blocking_threshold),
        ("executor.task_token_lifetime", executor.task_token_lifetime),
    ):
        check(seconds > 0, key, seconds, "seconds > 0")
    check(
        executor.terminate_grace >= 0,
        "executor.terminate_grace",
        executor.terminate_grace,
        "seconds >= 0",
    )
    check(
        executor.execution_api_url is None
        or executor.execution_api_url.startswith(("http://", "https://")),
        "executor.execution_api_url",
        executor.execution_api_url,
        "an http:// or https:// URL",
    )
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(settings.core.default_timezone)
    except (ValueError, KeyError, OSError):
        check(
            False, "core.default_timezone", settings.core.default_timezone, "an IANA timezone name"
        )
    url = settings.database_url
    check(
        url.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")),
        "database.url",
        url,
        "a sqlite:/// or postgresql:// URL",
    )
