"""A worker running as root gives each child that switches users a fresh scratch directory
(its working directory and TMPDIR once it switched users) and removes it before the next
fork."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from airflow_sc.children import Fork
from airflow_sc.executors._worker import _SCRATCH, TaskProgram
from airflow_sc.impersonation.scratch import sweep_scratch

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="scratch directories are made as root")


def fork_for(job: str) -> Fork:
    # As root with the default settings: the child becomes the dedicated task user.
    request = {"dag_id": "d", "task_id": "t", "impersonation": {"root_user": "airflow-sc-task"}}
    return Fork(job=job, payload={"request": request, "dag_fileloc": None})


def test_each_child_gets_a_fresh_private_scratch_removed_before_the_next() -> None:
    program = TaskProgram()
    first, second = fork_for("a"), fork_for("b")
    try:
        program.prepare(first)
        made = Path(first.payload["request"]["scratch"])
        assert made.is_dir()
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
        (made / "left by the task").write_text("x")
        program.prepare(second)
        assert not made.exists()
        assert Path(second.payload["request"]["scratch"]).is_dir()
    finally:
        _SCRATCH.remove()
    assert not Path(second.payload["request"]["scratch"]).exists()


def test_a_worker_removes_the_scratch_left_by_workers_that_were_killed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp_path / f"airflow-sc-try-{dead.pid}-abc"
    (left / "inner").mkdir(parents=True)
    live = tmp_path / f"airflow-sc-try-{os.getpid()}-abc"
    live.mkdir()
    unrelated = tmp_path / "airflow-sc-try-notapid"
    unrelated.mkdir()
    sweep_scratch(str(tmp_path))
    assert not left.exists()
    assert live.exists()
    assert unrelated.exists()
