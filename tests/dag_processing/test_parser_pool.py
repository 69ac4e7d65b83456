"""Every DAG file is imported in an isolated child: broken files become import errors."""

import textwrap
from pathlib import Path

import pytest

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
