"""The import hook: ``import airflow...`` served by airflow-sc's own implementations.

`AirflowCompatFinder` sits at the end of ``sys.meta_path``, so a real apache-airflow
installation (found by the regular path finder first) is never shadowed; `install`
does not even add it when ``airflow`` is importable. It serves exactly the modules of
`names.py`: each is a module object whose attributes resolve lazily to airflow-sc's
objects. Anything else under ``airflow`` fails at import with an error naming the missing
Airflow module or name, never an ``AttributeError`` deep inside.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

from . import names

__all__ = [
    "AirflowCompatFinder",
    "AirflowNameNotSupported",
    "install",
    "installed",
    "resolve",
    "uninstall",
]

_HINT = (
    "see 'Bringing Airflow 3 DAGs to airflow-sc' in the airflow-sc docs, or run "
    "`airflow-sc dags check-compat` on the DAG folder"
)


class AirflowNameNotSupported(ImportError):
    """A DAG file imports an Airflow module or name that airflow-sc does not provide yet."""


def resolve(target: str) -> Any:
    """The object a `names` target names: ``"module:attribute"`` or a whole ``"module"``."""
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


class _AirflowModule(types.ModuleType):
    """One served Airflow module; its names resolve on first use and are then cached."""

    _airflow_names: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        target = self._airflow_names.get(name)
        if target is not None:
            value = resolve(target)
        elif f"{self.__name__}.{name}" in names.all_modules():
            value = importlib.import_module(f"{self.__name__}.{name}")
        else:
            raise AirflowNameNotSupported(
                f"airflow-sc does not support the Airflow name '{self.__name__}.{name}' yet; "
                f"{_HINT}",
                name=self.__name__,
            )
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._airflow_names})


class AirflowCompatFinder:
    """Finds and creates the served ``airflow.*`` modules (a meta-path finder and loader)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "airflow" and not fullname.startswith("airflow."):
            return None
        if fullname not in names.all_modules():
            raise AirflowNameNotSupported(
                f"airflow-sc does not support the Airflow module '{fullname}' yet; {_HINT}",
                name=fullname,
            )
        loader: Any = self  # a Loader by protocol: create_module and exec_module
        return importlib.machinery.ModuleSpec(
            fullname, loader, is_package=fullname in names.packages()
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _AirflowModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        served = dict(names.names_of(module.__name__))
        module.__dict__["_airflow_names"] = served
        module.__dict__["__all__"] = sorted(served)
        module.__dict__["__doc__"] = (
            f"Airflow's {module.__name__}, served by airflow-sc (only the names in __all__)."
        )


_FINDER = AirflowCompatFinder()


def real_airflow_installed() -> bool:
    """Whether an ``airflow`` package other than this hook is importable."""
    if _FINDER in sys.meta_path:
        module = sys.modules.get("airflow")
        if module is not None:
            return not isinstance(module, _AirflowModule)
        return any(
            finder.find_spec("airflow", None) is not None
            for finder in sys.meta_path
            if finder is not _FINDER and hasattr(finder, "find_spec")
        )
    return importlib.util.find_spec("airflow") is not None


def install() -> bool:
    """Serve ``airflow.*`` from now on in this process; False when apache-airflow is there."""
    if _FINDER in sys.meta_path:
        return True
    if real_airflow_installed():
        return False
    sys.meta_path.append(_FINDER)
    return True


def uninstall() -> None:
    """Stop serving ``airflow.*`` and forget the modules served so far (tests)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name in [n for n, m in sys.modules.items() if isinstance(m, _AirflowModule)]:
        del sys.modules[name]


def installed() -> bool:
    return _FINDER in sys.meta_path
