"""Import DAG files into this process and keep the live `DAG` objects (``dags test``).

The DAG processor parses files in child processes and keeps only serialized DAGs; commands
made to debug user code (``dags test``) need the real objects, with the user's callables,
in the current process. Only files that mention both "dag" and "airflow" are imported
(Airflow's safe mode), as the DAG processor does.

`cached_dag_file` keeps what one file defined for as long as the file stays the same
(modification time and size): a local executor worker imports a DAG file once and every
try it forks afterwards inherits the loaded DAG instead of importing it again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from airflow_sc.sdk.dag import DAG, capture_dags
from airflow_sc.sdk.exceptions import DagDefinitionError

__all__ = [
    "DagFiles",
    "cached_dag_file",
    "find_dag_files",
    "imported_dag_file",
    "load_dag_files",
]


@dataclass(frozen=True, slots=True)
class DagFiles:
    """What importing a folder found: DAGs by id, where each came from, and import errors."""

    dags: dict[str, DAG] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    #: path -> the error's message or the traceback from the user's file on.
    errors: dict[Path, str] = field(default_factory=dict)


def find_dag_files(folder: Path) -> list[Path]:
    """Python files under `folder` that may define DAGs, in a stable order."""
    if folder.is_file():
        return [folder]
    found = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).parts
        if any(part.startswith((".", "__pycache__")) for part in relative):
            continue
        try:
            content = path.read_bytes().lower()
        except OSError:
            continue
        if b"dag" in content and b"airflow" in content:
            found.append(path)
    return found


def load_dag_files(folder: Path) -> DagFiles:
    """Import every DAG file under `folder` (or the one file `folder` names)."""
    result = DagFiles()
    root = folder if folder.is_dir() else folder.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # DAG files may import modules next to them
    for path in find_dag_files(folder):
        _load_file(path.resolve(), result)
    return result


#: Imported files by path: ((mtime_ns, size) when imported, what they defined).
_LOADED: dict[str, tuple[tuple[int, int], DagFiles]] = {}


def cached_dag_file(path: Path) -> DagFiles:
    """`load_dag_files(path)` for one file, imported again only when the file changed.

    A file whose import failed is not kept: the next call imports it again (and reports
    the error again).
    """
    key = str(path)
    try:
        status = os.stat(path)
    except OSError:
        return load_dag_files(path)
    stamp = (status.st_mtime_ns, status.st_size)
    hit = _LOADED.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    _LOADED.pop(key, None)
    found = load_dag_files(path)
    if not found.errors:
        _LOADED[key] = (stamp, found)
    return found


def imported_dag_file(path: Path) -> DagFiles | None:
    """What `cached_dag_file` holds for `path`, without importing anything."""
    hit = _LOADED.get(str(path))
    return hit[1] if hit is not None else None


def _load_file(path: Path, result: DagFiles) -> None:
    with capture_dags() as found:
        try:
            _import(path)
        except DagDefinitionError as exc:
            result.errors[path] = str(exc)
            return
        except (Exception, SystemExit) as exc:
            result.errors[path] = _user_traceback(exc, path)
            return
    for dag in dict.fromkeys(found):  # the same object may be captured twice
        if dag.dag_id in result.dags:
            first = result.paths[dag.dag_id]
            result.errors[path] = f"DAG id {dag.dag_id!r} is already defined in {first}"
            continue
        try:
            dag.validate()
        except DagDefinitionError as exc:
            result.errors[path] = str(exc)
            continue
        result.dags[dag.dag_id] = dag
        result.paths[dag.dag_id] = path


def _import(path: Path) -> None:
    digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
    name = f"airflow_sc_dagfile_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def _user_traceback(exc: BaseException, path: Path) -> str:
    """The traceback from the user's file on (the import machinery above it is noise)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, frame in enumerate(frames) if frame.filename == str(path)), 0)
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames[start:])
    lines += traceback.format_exception_only(exc)
    return "".join(lines)
