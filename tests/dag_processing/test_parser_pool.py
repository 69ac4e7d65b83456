"""Every DAG file is imported in an isolated child: broken files become import errors."""

import textwrap
from pathlib import Path

import anyio
import pytest

from airflow_sc.dag_processing.fork_guard import FORK_LIMIT
from airflow_sc.dag_processing.parser_pool import open_parser_pool

pytestmark = pytest.mark.anyio

GOOD = """
from datetime import datetime
from airflow_sc.sdk import DAG, task

with DAG("good_{n}", start_date=datetime(2026, 1, 1), schedule="@daily"):
    @task
    def hello():
        return 1

    hello()
"""

BROKEN = {
    "syntax_error": "from airflow_sc.sdk import DAG\ndef broken(:\n",
    "import_error": "from airflow_sc.sdk import DAG\nimport module_that_does_not_exist\n",
    "cycle": """
from datetime import datetime
from airflow_sc.sdk import DAG, EmptyOperator
with DAG("cyclic", start_date=datetime(2026, 1, 1)):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b >> a
""",
    "infinite_loop": "# airflow dag\nwhile True:\n    pass\n",
    "sys_exit": "# airflow dag\nimport sys\nsys.exit(3)\n",
    "os_exit": "# airflow dag\nimport os\nos._exit(7)\n",
    "segfault": "# airflow dag\nimport ctypes\nctypes.string_at(0)\n",
    "huge_allocation": "# airflow dag\nblob = bytearray(2 * 1024 ** 3)\n",
    "loud": (
        "# airflow dag\nprint('x' * (10 * 1024 * 1024))\nraise RuntimeError('after the noise')\n"
    ),
}

EXPECTED = {
    "syntax_error": "SyntaxError",
    "import_error": "ModuleNotFoundError: No module named 'module_that_does_not_exist'",
    "cycle": "cycle",
    "infinite_loop": "timed out after 2s",
    "sys_exit": "called sys.exit(3)",
    "os_exit": "exited with code 7",
    "segfault": "killed by signal SIGSEGV",
    "huge_allocation": "MemoryError",
    "loud": "RuntimeError: after the noise",
}


def write(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


async def test_broken_files_are_import_errors_and_good_files_still_parse(tmp_path: Path) -> None:
    paths = {name: write(tmp_path, name, text) for name, text in BROKEN.items()}
    async with open_parser_pool(2, file_timeout=2, max_memory=1024**3) as pool:
        for name, path in paths.items():
            result = await pool.parse(path, str(tmp_path))
            assert result.dags == [], name
            assert len(result.errors) == 1, name
            assert EXPECTED[name] in result.errors[0].stacktrace, (name, result.errors[0])
            assert result.errors[0].filename == path
            good = await pool.parse(write(tmp_path, f"good_after_{name}", GOOD.format(n=name)))
            assert [d["dag"]["dag_id"] for d in good.dags] == [f"good_{name}"], good.errors


async def test_import_error_traceback_starts_at_the_user_file(tmp_path: Path) -> None:
    path = write(tmp_path, "raises", "# airflow dag\n\n\nraise ValueError('bad config')\n")
    async with open_parser_pool(1, file_timeout=10, max_memory=0) as pool:
        (error,) = (await pool.parse(path)).errors
    assert error.stacktrace.startswith("Traceback (most recent call last):")
    assert f'File "{path}", line 4' in error.stacktrace
    assert "importlib" not in error.stacktrace


# Each writes `{marker}` first thing in the forked process, which must never run.
FORKING = {
    "fork_and_exit": """
        import os
        pid = os.fork()
        if pid == 0:
            open({marker!r}, "w").close()
            os._exit(0)
    """,
    "child_lingers": """
        import os, time
        if os.fork() == 0:
            open({marker!r}, "w").close()
            time.sleep(3600)
    """,
    "waits_forever": """
        import os
        pid = os.fork()
        if pid == 0:
            open({marker!r}, "w").close()
            while True:
                pass
        os.waitpid(pid, 0)
    """,
    "forks_twice": """
        import os
        for _ in range(2):
            if os.fork() == 0:
                open({marker!r}, "w").close()
                os._exit(0)
    """,
    "multiprocessing_process": """
        import multiprocessing, time
        def work():
            open({marker!r}, "w").close()
            time.sleep(3600)
        multiprocessing.get_context("fork").Process(target=work).start()
    """,
}
FORK_COUNT = {"forks_twice": 2}
DAG_AFTER = """
from datetime import datetime
from airflow_sc.sdk import DAG, EmptyOperator
with DAG("after_forking", start_date=datetime(2026, 1, 1)):
    EmptyOperator(task_id="t")
"""


@pytest.mark.parametrize("name", sorted(FORKING))
async def test_a_file_that_forks_is_an_import_error_saying_so(tmp_path: Path, name: str) -> None:
    marker = tmp_path / f"{name}.ran"
    body = textwrap.dedent(FORKING[name]).format(marker=str(marker))
    path = write(tmp_path, name, "# airflow dag\n" + body + DAG_AFTER)
    async with open_parser_pool(1, file_timeout=20, max_memory=0) as pool:
        result = await pool.parse(path, str(tmp_path))
        good = await pool.parse(write(tmp_path, "good", GOOD.format(n=name)))
    assert result.dags == []
    (error,) = result.errors
    count = FORK_COUNT.get(name, 1)
    noun = "process" if count == 1 else "processes"
    assert error.stacktrace == (
        f"{path}: the DAG file forked {count} {noun} while being parsed; DAG files must not "
        "start processes at import (each forked process was ended as it started)"
    )
    assert not marker.exists()  # the forked process ran none of the file's code
    assert [d["dag"]["dag_id"] for d in good.dags] == [f"good_{name}"]  # the zygote is fine


async def test_a_fork_loop_is_stopped_at_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "fork_loop", "# airflow dag\nimport os\nwhile True:\n    os.fork()\n")
    async with open_parser_pool(1, file_timeout=20, max_memory=0) as pool:
        (error,) = (await pool.parse(path)).errors
    assert error.stacktrace.startswith(
        f"{path}: the DAG file forked {FORK_LIMIT} processes while being parsed and parsing "
        "was stopped there (a fork loop); DAG files must not start processes at import"
    )


async def test_a_file_that_runs_a_command_still_parses(tmp_path: Path) -> None:
    # subprocess forks and execs in C: a command run to completion at import is allowed.
    text = "import subprocess\nsubprocess.run(['true'], check=True)\n" + GOOD.format(n="cmd")
    async with open_parser_pool(1, file_timeout=20, max_memory=0) as pool:
        result = await pool.parse(write(tmp_path, "runs_true", text))
    assert [d["dag"]["dag_id"] for d in result.dags] == ["good_cmd"], result.errors


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_processes_a_file_leaves_running_do_not_outlive_its_parse(tmp_path: Path) -> None:
    # One in a session of its own (out of the parse's process group), one daemonized by a
    # shell that exits at once (its parent gone: an orphan, reparented).
    pids = tmp_path / "pids"
    text = f"""
import subprocess
subprocess.Popen(["sleep", "1000"], start_new_session=True)
subprocess.run(["sh", "-c", "setsid sleep 1001 & echo $! >> {pids}"], check=True)
import os
with open({str(pids)!r}, "a") as out:
    out.write(str(subprocess.Popen(["sleep", "1002"], start_new_session=True).pid) + "\\n")
""" + GOOD.format(n="leaves")
    async with open_parser_pool(1, file_timeout=20, max_memory=0) as pool:
        result = await pool.parse(write(tmp_path, "leaves_processes", text))
        started = [int(pid) for pid in pids.read_text().split()]
        assert [d["dag"]["dag_id"] for d in result.dags] == ["good_leaves"], result.errors
        assert len(started) == 2
        with anyio.fail_after(10):
            while any(_alive(pid) for pid in started):
                await anyio.sleep(0.01)  # SIGKILL was sent: the kernel finishes them off
