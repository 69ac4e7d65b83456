"""`airflow-sc dags check-compat`: a static report of unsupported Airflow names."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from airflow_sc.cli.main import main
from airflow_sc.compat.scan import scan_source

DAG_FILE = textwrap.dedent(
    """
    import pendulum
    from airflow.sdk import DAG, Asset, task
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator
    import airflow.utils.timezone

    with DAG("x", schedule=[Asset("s3://b")], start_date=pendulum.datetime(2024, 1, 1)):
        @task.docker(image="python")
        def in_docker(): ...

        @task.virtualenv(requirements=["six"])
        def in_venv(): ...
    """
)


def test_scan_lists_each_name_with_its_line() -> None:
    usages = {(u.lineno, u.name): u.supported for u in scan_source(DAG_FILE)}
    assert usages == {
        (3, "airflow.sdk.DAG"): True,
        (3, "airflow.sdk.Asset"): False,
        (3, "airflow.sdk.task"): True,
        (4, "airflow.providers.standard.operators.bash.BashOperator"): True,
        (5, "airflow.providers.amazon.aws.operators.s3.S3CreateBucketOperator"): False,
        (6, "airflow.utils.timezone"): True,
        (9, "@task.docker"): False,
        (12, "@task.virtualenv"): True,
    }


def test_the_command_reports_unsupported_names_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "etl.py").write_text(DAG_FILE)
    (tmp_path / "fine.py").write_text("from airflow.sdk import dag, task\n")
    (tmp_path / "broken.py").write_text("from airflow.sdk import (\n")
    assert main(["dags", "check-compat", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'etl.py'}:3: airflow.sdk.Asset: NOT SUPPORTED yet" in out
    assert f"{tmp_path / 'etl.py'}:9: @task.docker: NOT SUPPORTED yet" in out
    assert "airflow.sdk.DAG" not in out
    assert f"{tmp_path / 'broken.py'}: could not be read: SyntaxError" in out
    assert out.rstrip().endswith(
        "3 files, 9 distinct Airflow names, 3 not supported yet: @task.docker, "
        "airflow.providers.amazon.aws.operators.s3.S3CreateBucketOperator, airflow.sdk.Asset"
    )


def test_a_supported_folder_passes_and_json_lists_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fine.py").write_text("from airflow.sdk import dag, task\n")
    assert main(["dags", "check-compat", str(tmp_path), "--all", "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == [
        {
            "file": str(tmp_path / "fine.py"),
            "error": None,
            "names": [
                {"line": 1, "name": "airflow.sdk.dag", "supported": True},
                {"line": 1, "name": "airflow.sdk.task", "supported": True},
            ],
        }
    ]


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["dags", "check-compat", str(tmp_path / "nope")]) == 2
