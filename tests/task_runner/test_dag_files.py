"""Loading DAG files into this process for `dags test`."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from airflow_sc.task_runner import load_dag_files

HEADER = "import datetime as dt\nfrom airflow_sc.sdk import DAG, EmptyOperator\n"


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_dags_are_found_in_nested_folders_and_may_import_siblings(tmp_path: Path) -> None:
    (tmp_path / "shared_names.py").write_text("PREFIX = 'team'\n")
    write(
        tmp_path,
        "team/pipeline.py",
        """
        from shared_names import PREFIX
        with DAG(f"{PREFIX}_pipeline", schedule=None):
            EmptyOperator(task_id="only")
        """,
    )
    write(tmp_path, ".hidden/ignored.py", "DAG('hidden', schedule=None)\n")
    found = load_dag_files(tmp_path)
    assert list(found.dags) == ["team_pipeline"]
    assert found.paths["team_pipeline"] == (tmp_path / "team/pipeline.py").resolve()
    assert found.errors == {}


def test_duplicate_ids_and_invalid_dags_are_import_errors(tmp_path: Path) -> None:
    first = write(tmp_path, "a.py", "DAG('same', schedule=None)\n")
    second = write(tmp_path, "b.py", "DAG('same', schedule=None)\n")
    invalid = write(tmp_path, "c.py", "DAG('needs_start', schedule='@daily')\n")
    found = load_dag_files(tmp_path)
    assert list(found.dags) == ["same"]
    assert found.paths["same"] == first.resolve()
    assert f"already defined in {first.resolve()}" in found.errors[second.resolve()]
    assert "needs a start_date" in found.errors[invalid.resolve()]


def test_the_traceback_starts_in_the_users_file(tmp_path: Path) -> None:
    path = write(tmp_path, "oops.py", "1 / 0\n")
    error = load_dag_files(tmp_path).errors[path.resolve()]
    assert error.startswith("Traceback (most recent call last):\n")
    assert f'File "{path.resolve()}", line 3' in error
    assert "importlib" not in error
    assert error.rstrip().endswith("ZeroDivisionError: division by zero")


def test_a_single_file_can_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, "one.py", "DAG('one', schedule=None)\n")
    write(tmp_path, "two.py", "DAG('two', schedule=None)\n")
    assert list(load_dag_files(path).dags) == ["one"]
