"""A worker running as root gives each try's child a fresh scratch directory (its working
directory and TMPDIR once it switched users) and removes it before the next fork."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from airflow_sc.children import Fork
from airflow_sc.executors._worker import _SCRATCH, TaskProgram

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="scratch directories are made as root")


def fork_for(job: str) -> Fork:
    return Fork(job=job, payload={"request": {"dag_id": "d", "task_id": "t"}, "dag_fileloc": None})


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
