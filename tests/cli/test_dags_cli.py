"""`airflow-sc dags list|list-import-errors|show|reserialize` on real files and a real database."""

import json
import os
from pathlib import Path

import pytest

from airflow_sc.cli.main import main

GOOD = """
from datetime import datetime
from airflow_sc.sdk import DAG, EmptyOperator, TaskGroup

with DAG(
    "pipeline", start_date=datetime(2026, 1, 1), schedule="@hourly", default_args={"owner": "ops"}
):
    start = EmptyOperator(task_id="start")
    with TaskGroup("load") as load:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    end = EmptyOperator(task_id="end")
    start >> load >> end
"""

BROKEN = {
    "syntax.py": "from airflow_sc.sdk import DAG\nwith DAG('x' as d:\n",
    "cycle.py": (
        "from datetime import datetime\n"
        "from airflow_sc.sdk import DAG, EmptyOperator\n"
        "with DAG('cyclic', start_date=datetime(2026, 1, 1)):\n"
        "    a = EmptyOperator(task_id='a')\n"
        "    b = EmptyOperator(task_id='b')\n"
        "    a >> b >> a\n"
    ),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("AIRFLOW_SC__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "good.py").write_text(GOOD)
    for name, text in BROKEN.items():
        (dags / name).write_text(text)
    return tmp_path


def test_reserialize_then_list_show_and_errors(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dags", "reserialize"]) == 1  # import errors make it exit non-zero
    assert "parsed 3 files: 1 DAGs, 2 import errors" in capsys.readouterr().out

    assert main(["dags", "list", "-o", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["dag_id"] == "pipeline"
    assert listed["owners"] == "ops"
    assert listed["fileloc"] == str(home / "dags" / "good.py")

    assert main(["dags", "list-import-errors", "-o", "json"]) == 1
    errors = {Path(e["filepath"]).name: e["error"] for e in json.loads(capsys.readouterr().out)}
    assert set(errors) == {"syntax.py", "cycle.py"}
    assert "SyntaxError" in errors["syntax.py"]
    assert "cycle" in errors["cycle.py"]
    assert "cycle.py:6" in errors["cycle.py"]  # the line that closed the cycle

    assert main(["dags", "show", "pipeline"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pipeline",
        "└── start (EmptyOperator)",
        "    └── load.a (EmptyOperator)",
        "        └── load.b (EmptyOperator)",
        "            └── end (EmptyOperator)",
    ]


def test_fixing_a_file_clears_its_import_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["dags", "reserialize"])
    (home / "dags" / "syntax.py").write_text(GOOD.replace('"pipeline"', '"fixed"'))
    main(["dags", "reserialize"])
    capsys.readouterr()
    main(["dags", "list-import-errors", "-o", "json"])
    errors = [Path(e["filepath"]).name for e in json.loads(capsys.readouterr().out)]
    assert errors == ["cycle.py"]
    main(["dags", "list", "-o", "plain"])
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [
        "fixed",
        "pipeline",
    ]


def test_list_local_parses_without_the_database(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dags", "list", "--local", "-o", "json"]) == 0
    assert [d["dag_id"] for d in json.loads(capsys.readouterr().out)] == ["pipeline"]
    assert not (home / "airflow-sc.db").exists()


def test_show_unknown_dag(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dags", "show", "nope"]) == 1
    assert "DAG 'nope' not found" in capsys.readouterr().err
