"""Airflow-style plugins from the plugins folder (``core.plugins_folder``).

Every ``.py`` file of the folder (and its sub-folders, ``.``/``_``-prefixed ones aside) is
imported once per process, under its file name as module name, with the folder on
``sys.path`` as in Airflow, so DAG files import what plugin files define. Each
`AirflowPlugin` subclass found contributes:

- ``timetables``: custom timetable classes. The scheduler, which imports no DAG file,
  rebuilds a DAG's timetable from its serialized form by class name; loading the plugins
  in every process (DAG processor, scheduler, task processes) makes the name resolvable.
- ``macros``: functions templates reach as ``{{ macros.<plugin name>.<function>(...) }}``.
- ``listeners``: objects or modules with listener hooks (`listeners.py`).
- ``priority_weight_strategies``: `PriorityWeightStrategy` subclasses a task's
  ``weight_rule`` may use (`airflow_sc.sdk.priority_strategy`).

Other plugin attributes (``fastapi_apps``, ``operator_extra_links``, ``executors``...)
have no effect in airflow-sc yet; a plugin that sets one is logged with a warning. A
plugin file that fails to import is logged with its traceback and kept in
`plugin_import_errors`; the other plugins still load.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from airflow_sc.sdk import macros as _macros
from airflow_sc.sdk.priority_strategy import (
    PriorityWeightStrategy,
    forget_strategies,
    register_priority_weight_strategy,
)
from airflow_sc.sdk.timetables import Timetable, register_timetable

from .listeners import clear_listeners, register_listener

__all__ = [
    "AirflowPlugin",
    "forget_plugins",
    "load_plugins",
    "loaded_plugins",
    "plugin_import_errors",
    "plugin_timetables",
]

log = logging.getLogger(__name__)

#: Plugin attributes airflow-sc does not act on yet.
_IGNORED_ATTRIBUTES = (
    "flask_blueprints",
    "fastapi_apps",
    "fastapi_root_middlewares",
    "appbuilder_views",
    "appbuilder_menu_items",
    "global_operator_extra_links",
    "operator_extra_links",
    "external_views",
    "react_apps",
    "executors",
    "hooks",
)


class AirflowPlugin:
    """Base class of plugins, as Airflow's ``airflow.plugins_manager.AirflowPlugin``."""

    name: ClassVar[str | None] = None
    macros: ClassVar[list[Callable[..., Any]]] = []
    timetables: ClassVar[list[type[Timetable]]] = []
    listeners: ClassVar[list[object]] = []
    priority_weight_strategies: ClassVar[list[type[PriorityWeightStrategy]]] = []
    flask_blueprints: ClassVar[list[Any]] = []
    fastapi_apps: ClassVar[list[Any]] = []
    fastapi_root_middlewares: ClassVar[list[Any]] = []
    appbuilder_views: ClassVar[list[Any]] = []
    appbuilder_menu_items: ClassVar[list[Any]] = []
    global_operator_extra_links: ClassVar[list[Any]] = []
    operator_extra_links: ClassVar[list[Any]] = []
    external_views: ClassVar[list[Any]] = []
    react_apps: ClassVar[list[Any]] = []
    executors: ClassVar[list[Any]] = []
    hooks: ClassVar[list[Any]] = []
    #: Where the plugin was loaded from (set when loading).
    source: ClassVar[str | None] = None

    @classmethod
    def validate(cls) -> None:
        if not cls.name:
            raise ValueError(f"plugin {cls.__qualname__} has no name")

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Called once when the plugin is loaded."""


_loaded_folders: set[str] = set()
_plugins: dict[str, type[AirflowPlugin]] = {}
_timetables: set[str] = set()
plugin_import_errors: dict[str, str] = {}


def loaded_plugins() -> dict[str, type[AirflowPlugin]]:
    """The plugins loaded in this process, by name."""
    return dict(_plugins)


def forget_plugins() -> None:
    """Forget every loaded plugin and listener, so a folder loads again (tests)."""
    _loaded_folders.clear()
    _plugins.clear()
    _timetables.clear()
    plugin_import_errors.clear()
    clear_listeners()
    forget_strategies()


def plugin_timetables() -> frozenset[str]:
    """Serialized type names of the timetables that loaded plugins registered."""
    return frozenset(_timetables)


def load_plugins(folder: str | Path) -> list[type[AirflowPlugin]]:
    """Import the plugins of `folder` (once per process) and register what they provide."""
    root = Path(folder).expanduser()
    key = str(root.resolve()) if root.exists() else str(root)
    if key in _loaded_folders or not root.is_dir():
        return []
    _loaded_folders.add(key)
    if str(root) not in sys.path:
        sys.path.append(str(root))
    found: list[type[AirflowPlugin]] = []
    for path in _plugin_files(root):
        try:
            module = _import(path)
        except Exception:
            plugin_import_errors[str(path)] = traceback.format_exc()
            log.error("Failed to import plugin file %s:\n%s", path, traceback.format_exc())
            continue
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, AirflowPlugin)
                and value is not AirflowPlugin
                and value not in found
            ):
                found.append(value)
    for plugin in found:
        try:
            _register(plugin)
        except Exception:
            plugin_import_errors[str(plugin.source or plugin.__module__)] = traceback.format_exc()
            log.exception("Failed to load plugin %s", plugin.__qualname__)
    return found


def _plugin_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(part.startswith((".", "__pycache__")) for part in parts):
            continue
        if path.name.startswith("_") and path.name != "__init__.py":
            continue
        if path.name == "__init__.py":
            continue
        files.append(path)
    return files


def _import(path: Path) -> types.ModuleType:
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _register(plugin: type[AirflowPlugin]) -> None:
    plugin.validate()
    name = str(plugin.name)
    if name in _plugins:
        return
    plugin.source = getattr(sys.modules.get(plugin.__module__), "__file__", None)
    ignored = [attr for attr in _IGNORED_ATTRIBUTES if getattr(plugin, attr, None)]
    if ignored:
        log.warning(
            "Plugin %r sets %s, which airflow-sc does not use yet (ignored)",
            name,
            ", ".join(ignored),
        )
    for timetable in plugin.timetables:
        register_timetable(timetable)
        _timetables.add(timetable.type_name)
    if plugin.macros:
        namespace = types.ModuleType(f"{_macros.__name__}.{name}")
        for macro in plugin.macros:
            setattr(namespace, macro.__name__, macro)
        setattr(_macros, name, namespace)
    for listener in plugin.listeners:
        register_listener(listener)
    for strategy in plugin.priority_weight_strategies:
        register_priority_weight_strategy(strategy)
    plugin.on_load()
    _plugins[name] = plugin
