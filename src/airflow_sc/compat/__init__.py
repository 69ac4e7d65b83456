"""Airflow compatibility of the processes that read DAG files and run tasks.

`install_airflow_compat(settings)` is called once at the start of a command that imports
user code (``run`` and the single-component commands, ``dags test``, ``tasks test``,
``dags list --local``). It

1. makes ``import airflow...`` resolve to airflow-sc's implementations (`finder.py`)
   unless ``core.airflow_compat`` is off or apache-airflow itself is installed;
2. loads the plugins folder (`airflow_sc.plugins`): timetables, macros, listeners;
3. exports the same options to the environment (`OPTIONS_ENV`), so that the processes this
   one starts (DAG parsing zygotes, local executor workers) call
   `install_airflow_compat_from_environment()` first thing and behave the same.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from . import finder

if TYPE_CHECKING:
    from airflow_sc.config import Settings

__all__ = [
    "OPTIONS_ENV",
    "CompatOptions",
    "install_airflow_compat",
    "install_airflow_compat_from_environment",
    "installed_options",
    "use_venv_cache",
]

log = logging.getLogger(__name__)

#: The environment variable carrying `CompatOptions` to child processes (no secrets in it:
#: it is not an ``AIRFLOW_SC__`` settings variable, so task processes keep it).
OPTIONS_ENV = "AIRFLOW_SC_COMPAT_OPTIONS"


@dataclass(frozen=True, slots=True)
class CompatOptions:
    """What a process needs to read Airflow DAG files: the import layer, plugins, names."""

    airflow_compat: bool = True
    plugins_folder: str | None = None
    #: The deployment's API (``ti.log_url``), when it serves one.
    api_base_url: str | None = None
    #: Where `PythonVirtualenvOperator` keeps the environments it builds.
    venv_cache_path: str | None = None
    #: Airflow config names answered by ``conf.get`` (``"core.dags_folder"`` -> value).
    config: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> CompatOptions:
        api_base_url = f"http://{settings.api.host}:{settings.api.port}"
        config = {
            "core.dags_folder": str(settings.dags_folder),
            "core.plugins_folder": str(settings.plugins_folder),
            "core.load_examples": str(settings.core.load_examples),
            "core.parallelism": str(settings.core.parallelism),
            "core.default_timezone": settings.core.default_timezone,
            "logging.base_log_folder": str(settings.base_log_folder),
            "logging.logging_level": settings.logging.level,
            "api.base_url": api_base_url,
            "webserver.base_url": api_base_url,
        }
        return cls(
            airflow_compat=settings.core.airflow_compat,
            plugins_folder=str(settings.plugins_folder),
            api_base_url=api_base_url,
            venv_cache_path=str(settings.core.home / "venvs"),
            config=config,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CompatOptions:
        data: dict[str, Any] = json.loads(text)
        return cls(
            airflow_compat=bool(data.get("airflow_compat", True)),
            plugins_folder=data.get("plugins_folder"),
            api_base_url=data.get("api_base_url"),
            venv_cache_path=data.get("venv_cache_path"),
            config=dict(data.get("config") or {}),
        )

    def airflow_config(self) -> Iterator[tuple[tuple[str, str], str]]:
        """The Airflow config options these settings answer: ((section, key), value)."""
        for dotted, value in self.config.items():
            section, _, key = dotted.partition(".")
            yield (section, key), value


_installed: CompatOptions | None = None


def installed_options() -> CompatOptions:
    """The options this process installed (defaults when it installed none)."""
    return _installed or CompatOptions()


def install_airflow_compat(settings: Settings) -> CompatOptions:
    """Set this process up to read Airflow DAG files, and its future children likewise."""
    options = CompatOptions.from_settings(settings)
    os.environ[OPTIONS_ENV] = options.to_json()
    _install(options)
    return options


def use_venv_cache(path: str) -> None:
    """Keep `PythonVirtualenvOperator` environments in `path` from now on, in this process
    and its children (a task process that switched users has a cache of its own)."""
    global _installed
    _installed = replace(installed_options(), venv_cache_path=path)
    os.environ[OPTIONS_ENV] = _installed.to_json()


def install_airflow_compat_from_environment() -> CompatOptions:
    """What a child process calls first: the options its parent exported (else defaults)."""
    raw = os.environ.get(OPTIONS_ENV)
    options = CompatOptions.from_json(raw) if raw else CompatOptions()
    _install(options)
    return options


def _install(options: CompatOptions) -> None:
    global _installed
    _installed = options
    if options.airflow_compat and not finder.install():
        log.info("apache-airflow is installed: `import airflow` uses it, not airflow-sc")
    if options.plugins_folder:
        from airflow_sc.plugins import load_plugins

        load_plugins(options.plugins_folder)
