"""Finding DAG files (blocking disk I/O: call these through a worker thread)."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_sc.dag_processing.parsing import might_contain_dag

IGNORE_FILE = ".airflowignore"


def scan_folder(folder: Path) -> dict[str, float]:
    """Candidate DAG files under `folder` and their modification times.

    Skips hidden files and folders, `__pycache__`, files that cannot hold a DAG (Airflow's
    safe-mode heuristic) and paths matching a regex line of an `.airflowignore` file.
    """
    import re

    found: dict[str, float] = {}
    if not folder.is_dir():
        return found
    for root, dirs, files in os.walk(folder, followlinks=True):
        patterns = _ignore_patterns(Path(root))
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d != "__pycache__"
            and not any(re.search(p, os.path.join(root, d)) for p in patterns)
        )
        for name in sorted(files):
            if not name.endswith(".py") or name.startswith("."):
                continue
            path = os.path.join(root, name)
            if any(re.search(p, path) for p in patterns):
                continue
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            if might_contain_dag(path):
                found[path] = mtime
    return found


def _ignore_patterns(folder: Path) -> list[str]:
    ignore = folder / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = ignore.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
