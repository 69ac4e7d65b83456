"""Airflow DAG files in the DAG processor's isolated parsing processes."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.dag_processing.parser_pool import open_parser_pool
from airflow_sc.sdk import DAG, EmptyOperator, TriggerDagRunOperator
from airflow_sc.sdk.ignored_arguments import (
    DAG_ARGUMENTS,
    TASK_ARGUMENTS,
    IgnoredArgumentWarning,
    reset_warnings,
)

AIRFLOW_FILE = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("from_airflow", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         access_control={"Viewer": {"can_read"}}, fail_fast=True):
    EmptyOperator(task_id="a", queue="gpu") >> EmptyOperator(task_id="b", queue="gpu")
"""

UNSUPPORTED_FILE = """
from airflow.sdk import DAG, Asset
"""


@pytest.mark.anyio
async def test_parsing_children_serve_airflow_imports_and_report_warnings(
    tmp_path: Path,
) -> None:
    good = tmp_path / "from_airflow.py"
    good.write_text(textwrap.dedent(AIRFLOW_FILE))
    bad = tmp_path / "uses_assets.py"
    bad.write_text(textwrap.dedent(UNSUPPORTED_FILE))
    async with open_parser_pool(1, file_timeout=30, max_memory=0) as pool:
        parsed = await pool.parse(str(good), str(tmp_path))
        failed = await pool.parse(str(bad), str(tmp_path))
    assert parsed.errors == []
    [serialized] = parsed.dags
    assert serialized["dag"]["fail_fast"] is True
    assert sorted(t["queue"] for t in serialized["dag"]["tasks"]) == ["gpu", "gpu"]
    # Each ignored argument warns once, at the line that passed it.
    assert [w.split(": ", 1)[1] for w in parsed.warnings] == [
        f"DAG argument access_control has no effect in airflow-sc yet: "
        f"{DAG_ARGUMENTS['access_control']}",
        f"task argument queue has no effect in airflow-sc yet: {TASK_ARGUMENTS['queue']}",
    ]
    assert parsed.warnings[0].startswith(f"{good}:6")
    [error] = failed.errors
    assert "airflow-sc does not support the Airflow name 'airflow.sdk.Asset' yet" in (
        error.stacktrace
    )
    assert "AttributeError" not in error.stacktrace


def _caught(build: Any) -> tuple[Any, list[str]]:
    reset_warnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build()
    return built, [str(w.message) for w in caught if w.category is IgnoredArgumentWarning]


def test_ignored_arguments_warn_once_per_process() -> None:
    def build() -> None:
        with DAG("w", schedule=None):
            EmptyOperator(task_id="a", resources={"cpus": 1})
            EmptyOperator(task_id="b", resources={"cpus": 1})

    _, messages = _caught(build)
    assert messages == [
        f"task argument resources has no effect in airflow-sc yet: {TASK_ARGUMENTS['resources']}"
    ]


def test_every_ignored_argument_is_accepted_and_named_in_a_warning() -> None:
    def build() -> DAG:
        with DAG(
            "all_ignored",
            schedule=None,
            access_control={"Op": {"can_edit"}},
            fail_fast=True,
            max_consecutive_failed_dag_runs=3,
            owner_links={"data": "https://example.com"},
            deadline=object(),
            auto_register=False,
            disable_bundle_versioning=True,
        ) as dag:
            EmptyOperator(
                task_id="t",
                queue="q",
                executor_config={"x": 1},
                resources={"cpus": 1},
                run_as_user="u",
                map_index_template="{{ x }}",
                inlets=["a"],
                outlets=["b"],
                retry_policy=object(),
            )
            TriggerDagRunOperator(
                task_id="trigger", trigger_dag_id="other", fail_when_dag_is_paused=True
            )
            TriggerDagRunOperator(task_id="deferred", trigger_dag_id="other", deferrable=True)
        return dag

    dag, messages = _caught(build)
    named = {message.split(" has no effect")[0] for message in messages}
    assert named == {
        *(f"DAG argument {name}" for name in DAG_ARGUMENTS),
        *(f"task argument {name}" for name in TASK_ARGUMENTS),
        "TriggerDagRunOperator.deferrable",
    }
    assert set(DAG_ARGUMENTS) <= set(vars(dag))
    assert set(TASK_ARGUMENTS) <= set(vars(dag.get_task("t")))
