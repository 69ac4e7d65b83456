"""Which Airflow names a DAG folder uses that airflow-sc does not support yet.

A static reading (`ast`, nothing is imported or run): every ``import airflow...`` and
``from airflow... import name`` line, and every ``@task.<variant>`` / ``task.<variant>``
used on a ``task`` imported from Airflow, checked against `names.py`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import names

__all__ = ["FileReport", "Usage", "scan_file", "scan_folder", "scan_source"]

_TASK_MODULES = frozenset(
    {"airflow.sdk", "airflow.decorators", "airflow.providers.common.compat.sdk"}
)


@dataclass(frozen=True, slots=True)
class Usage:
    """One Airflow name used at one line."""

    lineno: int
    name: str
    supported: bool


@dataclass(frozen=True, slots=True)
class FileReport:
    path: Path
    usages: tuple[Usage, ...]
    #: Set when the file could not be read as Python.
    error: str | None = None

    @property
    def unsupported(self) -> tuple[Usage, ...]:
        return tuple(u for u in self.usages if not u.supported)


def _is_airflow(module: str) -> bool:
    return module == "airflow" or module.startswith("airflow.")


def scan_source(source: str, filename: str = "<dag file>") -> list[Usage]:
    """The Airflow names `source` uses, in line order."""
    tree = ast.parse(source, filename=filename)
    found: list[Usage] = []
    task_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_airflow(alias.name):
                    found.append(Usage(node.lineno, alias.name, names.is_supported(alias.name)))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not _is_airflow(node.module):
                continue
            for alias in node.names:
                if alias.name == "*":
                    found.append(Usage(node.lineno, node.module, names.is_supported(node.module)))
                    continue
                supported = names.is_supported(node.module, alias.name)
                found.append(Usage(node.lineno, f"{node.module}.{alias.name}", supported))
                if alias.name == "task" and node.module in _TASK_MODULES:
                    task_aliases.add(alias.asname or "task")
    if task_aliases:
        found.extend(_task_variants(tree, task_aliases))
    return sorted(found, key=lambda usage: (usage.lineno, usage.name))


def _task_variants(tree: ast.AST, aliases: set[str]) -> Iterator[Usage]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            supported = node.attr in names.TASK_DECORATORS
            yield Usage(node.lineno, f"@task.{node.attr}", supported)


def scan_file(path: Path) -> FileReport:
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
        usages = scan_source(source, str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        return FileReport(path, (), error=f"{type(exc).__name__}: {exc}")
    return FileReport(path, tuple(usages))


def scan_folder(folder: Path) -> list[FileReport]:
    """A report per Python file under `folder` (or for the one file it names)."""
    if folder.is_file():
        return [scan_file(folder)]
    reports = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).parts
        if any(part.startswith((".", "__pycache__")) for part in relative):
            continue
        reports.append(scan_file(path))
    return reports
