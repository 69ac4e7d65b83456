"""A server's home, log folder and SQLite file are private to its OS user, and the server
process cannot be inspected by other processes of that user (its environment holds the
database URL)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_sc.cli.run_cmd import prepare_home
from airflow_sc.config import load_settings
from airflow_sc.db.schema import ensure_schema_for_run_sync
from airflow_sc.runtime.hardening import private_folder

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_home_and_log_folder_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings({"AIRFLOW_SC_HOME": str(home)})
    prepare_home(settings)
    assert mode(home) == 0o700
    assert mode(settings.base_log_folder) == 0o700
    assert settings.dags_folder.is_dir()


def test_an_existing_open_folder_is_closed_to_others(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "keep.txt").write_text("kept")
    private_folder(folder)
    assert mode(folder) == 0o700
    assert (folder / "keep.txt").read_text() == "kept"


def test_the_embedded_database_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "airflow-sc.db"
    ensure_schema_for_run_sync(f"sqlite:///{path}")
    assert mode(path) == 0o600
    # A database made readable by an older version is closed on the next start.
    path.chmod(0o644)
    ensure_schema_for_run_sync(f"sqlite:///{path}")
    assert mode(path) == 0o600


#: Run as root, it first becomes an ordinary unprivileged process (root reads any process).
#: A forked child, of the same user, makes itself non-dumpable or not (argv[1]); the
#: parent then tries to read the child's environment.
INSPECT = textwrap.dedent(
    """
    import os, sys
    from airflow_sc.runtime import hardening
    if os.geteuid() == 0:
        os.setgid(65534); os.setuid(65534)
        hardening._prctl(hardening._PR_SET_DUMPABLE, 1)  # as an exec'd process would be
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if sys.argv[1] == "harden":
            hardening.make_non_dumpable()
        os.write(ready_w, b"1" if hardening.is_dumpable() else b"0")
        os.read(done_r, 1)
        os._exit(0)
    dumpable = os.read(ready_r, 1) == b"1"
    try:
        open(f"/proc/{pid}/environ", "rb").read()
        outcome = "read"
    except PermissionError:
        outcome = "refused"
    os.write(done_w, b"x")
    os.waitpid(pid, 0)
    print(dumpable, outcome)
    """
)


@linux_only
@pytest.mark.parametrize(("how", "expected"), [("harden", "False refused"), ("leave", "True read")])
def test_a_non_dumpable_process_environment_is_closed_to_its_own_user(
    how: str, expected: str
) -> None:
    env = {**os.environ, "AIRFLOW_SC__DATABASE__URL": "postgresql://u:secret@db/airflow"}
    result = subprocess.run(
        [sys.executable, "-c", INSPECT, how], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == expected
