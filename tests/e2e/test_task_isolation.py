"""Tasks hold no keys: a real `airflow-sc run` as root runs its tasks as other OS users,
and a task that tries to read each of the server's secrets gets none of them, while it
still imports, writes its TMPDIR and reports its XCom and log as usual.

Runs as root on Linux (the server must be able to switch users); skipped otherwise.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.impersonation.accounts import ensure_system_user
from tests.e2e.dags.secrets_probe import RUN_AS
from tests.e2e.deployment import Deployment, Running, process_tree

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or os.geteuid() != 0,
        reason="impersonation needs a server running as root on Linux (run the tests as root)",
    ),
]

DAG_ID = "e2e_isolation"
SECRETS = (
    "signing key",
    "fernet key",
    "admin password",
    "database",
    "server environ",
    "worker environ",
)


@pytest.fixture(scope="module", autouse=True)
def users() -> None:
    ensure_system_user(RUN_AS)
    ensure_system_user("airflow-sc-task")


def run_probes(running: Running, home: Path) -> tuple[dict[str, dict[str, Any]], str]:
    api = running.api
    api.wait_for_dags([DAG_ID])
    run_id = api.trigger(DAG_ID, {"home": str(home), "pid": running.pid})
    assert api.wait_finished({DAG_ID: run_id}, within=60) == {DAG_ID: "failed"}
    states = {t: ti["state"] for t, ti in api.task_instances(DAG_ID, run_id).items()}
    assert states == {
        "as_default": "success",
        "as_named_user": "success",
        "as_unknown_user": "failed",
        "async_as_named_user": "failed",  # the in-process executor cannot switch users
    }
    seen = {t: api.xcom(DAG_ID, run_id, t) for t in ("as_default", "as_named_user")}
    return seen, run_id


def found_in_memory(pid: int, needles: dict[str, bytes]) -> set[str]:
    """Which `needles` the memory of process `pid` holds (read as root)."""
    found: set[str] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found |= {name for name, needle in needles.items() if needle in data}
    return found


def worker_pids(running: Running) -> list[int]:
    """The local executor's warm workers (every task process is forked from one)."""
    return [
        p.pid
        for p in process_tree(running.pid)
        if "airflow_sc.executors._worker:PROGRAM" in " ".join(p.cmdline())
    ]


def assert_isolated(seen: dict[str, Any], user: str) -> None:
    assert seen["user"] == user
    assert seen["dag file imported as"] == user  # its top-level code never ran as root
    assert {n: seen["secrets"][n][:6] for n in SECRETS} == dict.fromkeys(SECRETS, "denied")
    # The home shows the dags folder, the user's own virtualenv cache (venvs/users/<user>)
    # and, for a try of a worker that became its user at start (all but RUN_AS, a task's
    # own run_as_user, whose worker stays root and switches per try), the log folder (0710: its
    # own log file alone is reachable); the rest is covered in the task's mount namespace.
    expected = ["dags", "venvs"] if user == RUN_AS else ["dags", "logs", "venvs"]
    assert seen["home contents"] == expected
    assert seen["venv caches"] == [user]
    assert seen["settings in environment"] == []
    assert seen["lazy import"] == "ok"
    assert seen["tmpdir"] == "written by the task"
    assert seen["tmpdir owner"] == user


def test_tasks_run_as_unprivileged_users_and_read_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # The database URL reaches the server through its environment, as a setting.
    url = f"sqlite:///{home / 'airflow-sc.db'}"
    deployment = Deployment(
        home, "asyncio", ("secrets_probe.py", "parse_probe.py"), database_url=url
    )
    with deployment.start() as running:
        seen, run_id = run_probes(running, home)
        parsed = [
            e["stack_trace"]
            for e in running.api.get("/importErrors")["import_errors"]
            if e["filename"].endswith("parse_probe.py")
        ]
        log = running.api.log(DAG_ID, run_id, "as_default")
        unknown = running.api.log(DAG_ID, run_id, "as_unknown_user")
        in_process = running.api.log(DAG_ID, run_id, "async_as_named_user")
        # A task process starts as a copy of its worker: the workers must hold no secret.
        needles = {
            name: (home / name).read_bytes().strip()
            for name in ("api_signing.key", "fernet.key", "admin_password.txt")
        }
        needles["database URL"] = url.encode()
        needles["control"] = b"airflow_sc.executors._worker:PROGRAM"  # the scan finds things
        workers = worker_pids(running)
        assert workers
        held = {pid: found_in_memory(pid, needles) for pid in workers}
    # What the secrets are, as the server's user sees them: they exist and are readable.
    for name in ("api_signing.key", "fernet.key", "admin_password.txt", "airflow-sc.db"):
        assert (home / name).stat().st_size > 0
    assert held == {pid: {"control"} for pid in workers}
    # A DAG file's top-level code is parsed as the task user too, without the settings.
    [trace] = parsed
    probe = ast.literal_eval(trace.rsplit("parse probe: ", 1)[1].strip().splitlines()[0])
    assert probe["parsed as"] == "airflow-sc-task"
    assert probe["settings in environment"] == []
    # Covered (not there at all) or closed by their modes: either way, not read.
    assert {name: probe[name][:6] for name in ("signing key", "fernet key", "database")} == {
        "signing key": "denied",
        "fernet key": "denied",
        "database": "denied",
    }
    assert_isolated(seen["as_default"], "airflow-sc-task")
    assert_isolated(seen["as_named_user"], RUN_AS)
    assert "Running as the OS user 'airflow-sc-task'" in log
    assert "probe ran as airflow-sc-task" in log
    assert "there is no OS user 'no-such-user-airflow-sc'" in unknown
    assert "must not run" not in unknown
    assert f"should run as the OS user {RUN_AS!r}, but the in-process executor" in in_process
    assert "must not run" not in in_process


def test_default_impersonation_runs_tasks_without_run_as_user_as_that_user(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deployment = Deployment(
        home,
        "trio",
        ("secrets_probe.py",),
        settings={
            "AIRFLOW_SC__CORE__DEFAULT_IMPERSONATION": "nobody",
            # The switched task reaches the execution API over HTTP (its own client).
            "AIRFLOW_SC__EXECUTOR__LOCAL_CHANNEL": "http",
        },
    )
    with deployment.start() as running:
        seen, _ = run_probes(running, home)
    assert_isolated(seen["as_default"], "nobody")
    assert_isolated(seen["as_named_user"], RUN_AS)
