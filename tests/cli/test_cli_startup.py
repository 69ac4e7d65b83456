"""The CLI starts without the API stack (FastAPI, Starlette): only the servers need it."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_entry_point_does_not_import_the_api_stack() -> None:
    probe = (
        "import sys, airflow_sc.cli.main\n"
        "heavy = sorted(m for m in ('fastapi', 'starlette', 'airflow_sc.api')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_a_process_without_the_api_server_does_not_import_the_api_stack() -> None:
    """`airflow-sc scheduler` and `dag-processor` compose their components without it."""
    probe = (
        "import sys, airflow_sc.cli._composition\n"
        "heavy = sorted(m for m in ('fastapi', 'starlette', 'airflow_sc.api')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
