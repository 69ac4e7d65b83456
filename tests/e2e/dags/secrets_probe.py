"""Tasks that try to read what the server holds, for the task-isolation tests.

Each probe returns (as its XCom) what it got from each secret: "read N bytes" or
"denied: <error>", the airflow-sc settings in its environment, who it ran as, whether a
standard-library module imported lazily and whether it could write to its TMPDIR. The run's
conf names the home and the server's pid.
"""

from __future__ import annotations

import datetime
import os
import pwd
import sys
import tempfile
from pathlib import Path

from airflow_sc.sdk import DAG, task

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
#: A user the tests create, named by the run_as_user probe.
RUN_AS = "airflow-sc-test-etl"
#: Who ran this file's top-level code, in the process that imported it (a try's process
#: imports it as the try's user, never as the server's).
IMPORTED_AS = pwd.getpwuid(os.geteuid()).pw_name


def attempt(action) -> str:
    try:
        return f"read {len(action())} bytes"
    except OSError as exc:
        return f"denied: {type(exc).__name__}"


def probe(home: str, server_pid: int) -> dict:
    home_path = Path(home)
    lazily = "xml.dom.minidom" not in sys.modules
    import xml.dom.minidom

    scratch = Path(tempfile.gettempdir()) / "probe.txt"
    scratch.write_text("written by the task")
    print(f"probe ran as {pwd.getpwuid(os.getuid()).pw_name}")
    return {
        "user": pwd.getpwuid(os.getuid()).pw_name,
        "dag file imported as": IMPORTED_AS,
        "secrets": {
            "signing key": attempt((home_path / "api_signing.key").read_bytes),
            "fernet key": attempt((home_path / "fernet.key").read_bytes),
            "admin password": attempt((home_path / "admin_password.txt").read_bytes),
            "database": attempt((home_path / "airflow-sc.db").read_bytes),
            "server environ": attempt(Path(f"/proc/{server_pid}/environ").read_bytes),
            "worker environ": attempt(Path(f"/proc/{os.getppid()}/environ").read_bytes),
        },
        "home contents": sorted(os.listdir(home_path)),
        "venv caches": sorted(os.listdir(home_path / "venvs" / "users")),
        "settings in environment": sorted(k for k in os.environ if k.startswith("AIRFLOW_SC__")),
        "lazy import": lazily and xml.dom.minidom.parseString("<ok/>").documentElement.tagName,
        "tmpdir": scratch.read_text(),
        "tmpdir owner": pwd.getpwuid(scratch.parent.stat().st_uid).pw_name,
    }


with DAG("e2e_isolation", schedule=None, start_date=START, params={"home": "", "pid": 0}):

    @task
    def as_default(**context) -> dict:
        return probe(context["params"]["home"], int(context["params"]["pid"]))

    @task(run_as_user=RUN_AS)
    def as_named_user(**context) -> dict:
        return probe(context["params"]["home"], int(context["params"]["pid"]))

    @task(run_as_user="no-such-user-airflow-sc", retries=0)
    def as_unknown_user() -> None:
        raise AssertionError("must not run")

    @task(run_as_user=RUN_AS, retries=0)
    async def async_as_named_user() -> None:
        raise AssertionError("must not run in the server's process")

    as_default()
    as_named_user()
    as_unknown_user()
    async_as_named_user()
