"""A DAG file whose top-level code tries to read the server's secrets, for the
task-isolation tests: it always fails to import, and its import error says who parsed it
and what each read got."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

home = Path(os.environ.get("AIRFLOW_SC_HOME", "."))


def attempt(path: Path) -> str:
    try:
        return f"read {len(path.read_bytes())} bytes"
    except OSError as exc:
        return f"denied: {type(exc).__name__}"


seen = {
    "parsed as": pwd.getpwuid(os.geteuid()).pw_name,
    "signing key": attempt(home / "api_signing.key"),
    "fernet key": attempt(home / "fernet.key"),
    "database": attempt(home / "airflow-sc.db"),
    "settings in environment": sorted(k for k in os.environ if k.startswith("AIRFLOW_SC__")),
}
raise RuntimeError(f"parse probe: {seen!r}")
