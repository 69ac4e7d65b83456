"""Import one DAG file and serialize what it defines (runs inside a forked child only)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
import warnings
from typing import Any

from airflow_sc.sdk import DAG
from airflow_sc.sdk.dag import capture_dags
from airflow_sc.sdk.exceptions import DagDefinitionError
from airflow_sc.sdk.ignored_arguments import IgnoredArgumentWarning
from airflow_sc.serialization.encode import encode_dag


def warm_up() -> None:
    """Import everything a DAG file is likely to need, once, before forking children."""
    import airflow_sc.sdk.operators  # noqa: F401


def might_contain_dag(path: str) -> bool:
    """Airflow's safe-mode heuristic: only files mentioning both "dag" and "airflow"."""
    try:
        with open(path, "rb") as handle:
            content = handle.read().lower()
    except OSError:
        return False
    return b"dag" in content and b"airflow" in content


def module_name(path: str) -> str:
    digest = hashlib.sha1(path.encode()).hexdigest()[:12]
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"airflow_sc_dagfile_{digest}_{stem}"


def parse_file(path: str, dags_folder: str | None = None) -> dict[str, Any]:
    """Import `path`; return its serialized DAGs, import errors and warnings as JSON-ready
    data (the warnings: Airflow arguments that have no effect in airflow-sc yet)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IgnoredArgumentWarning)
        result = _parse_file(path, dags_folder)
    result["warnings"] = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, IgnoredArgumentWarning)
    ]
    return result


def _parse_file(path: str, dags_folder: str | None) -> dict[str, Any]:
    if dags_folder and dags_folder not in sys.path:
        sys.path.insert(0, dags_folder)  # DAG files may import modules next to them
    errors: list[dict[str, str]] = []
    dags: list[dict[str, Any]] = []
    with capture_dags() as found:
        try:
            import_dag_file(path)
        except DagDefinitionError as exc:
            return _result(path, [], [_error(exc.filename or path, str(exc))])
        except SystemExit as exc:
            return _result(
                path,
                [],
                [_error(path, f"{path} called sys.exit({exc.code!r}) while being imported")],
            )
        except BaseException as exc:  # the file's own error
            return _result(path, [], [_error(path, _user_traceback(exc, path))])
    seen: dict[str, DAG] = {}
    for dag in dict.fromkeys(found):  # the same object may be captured twice
        if dag.dag_id in seen:
            errors.append(_error(path, f"{path}: DAG id {dag.dag_id!r} is defined more than once"))
            continue
        seen[dag.dag_id] = dag
        try:
            dag.validate()
            dags.append(encode_dag(dag, dags_folder=dags_folder))
        except DagDefinitionError as exc:
            errors.append(_error(exc.filename or path, str(exc)))
        except Exception as exc:
            errors.append(_error(path, _user_traceback(exc, path)))
    return _result(path, dags, errors)


def import_dag_file(path: str) -> None:
    """Import `path` under its own module name (`module_name`); the file's errors propagate."""
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def _user_traceback(exc: BaseException, path: str) -> str:
    """The traceback from the user's file on (the import machinery above it is noise)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, frame in enumerate(frames) if frame.filename == path), 0)
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames[start:])
    lines += traceback.format_exception_only(exc)
    return "".join(lines)


def _error(filename: str, stacktrace: str) -> dict[str, str]:
    return {"filename": filename, "stacktrace": stacktrace}


def _result(path: str, dags: list[dict[str, Any]], errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"path": path, "dags": dags, "errors": errors}
