"""Realistic Airflow 3 style DAG files (importing only airflow_sc.sdk) build and validate."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest

from airflow_sc.sdk import DAG, BashOperator, TriggerRule
from airflow_sc.sdk.dag import capture_dags

DAGS = Path(__file__).parent / "dags"
_counter = itertools.count()


def load(name: str) -> DAG:
    """Import one DAG file the way a parser would, returning its only DAG."""
    path = DAGS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_dagfile_{name}_{next(_counter)}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with capture_dags() as found:
        spec.loader.exec_module(module)
    (built,) = found
    built.validate()
    assert built.fileloc == str(path)
    return built


def upstream(d: DAG, task_id: str) -> set[str]:
    return d.get_task(task_id).upstream_task_ids


def test_every_dag_file_imports_only_the_sdk() -> None:
    for path in DAGS.glob("*.py"):
        source = path.read_text()
        assert "import airflow\n" not in source, path
        assert "from airflow." not in source, path


def test_taskflow_etl() -> None:
    d = load("taskflow_etl")
    assert d.dag_id == "taskflow_etl"
    assert d.doc_md is not None
    assert d.doc_md.startswith("### ETL")
    assert d.task_ids == ["extract", "transform", "load_all.load_total", "load_all.load_count"]
    assert upstream(d, "transform") == {"extract"}
    assert upstream(d, "load_all.load_total") == {"transform"}
    assert d.get_task("extract").multiple_outputs is True
    assert d.get_task("load_all.load_total").retries == 2
    assert d.get_task("load_all.load_count").retries == 0
    assert d.get_task("transform").owner == "data-eng"
    assert d.params["min_value"] == 0


def test_bash_pipeline() -> None:
    d = load("bash_pipeline")
    assert d.max_active_runs == 1
    assert upstream(d, "prepare.mkdir") == {"start"}
    assert upstream(d, "branch") == {"prepare.clean"}
    assert upstream(d, "join") == {"full_refresh", "incremental"}
    assert d.get_edge_info("branch", "full_refresh") == {"label": "first of month"}
    assert d.get_task("join").trigger_rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    publish = d.get_task("publish")
    assert isinstance(publish, BashOperator)
    assert publish.retries == 1
    assert publish.weight_rule == "absolute"
    assert [t.task_id for t in d.topological_sort()][:3] == [
        "start",
        "prepare.mkdir",
        "prepare.clean",
    ]


def test_branching_taskflow() -> None:
    d = load("branching_taskflow")
    assert upstream(d, "pick") == {"latest_only"}
    assert upstream(d, "done") == {"small", "big", "audit"}
    assert upstream(d, "notify") == {"has_rows"}
    assert d.get_task("big").env == {"MODE": "big"}
    decision = d.get_task("pick").execute({"params": {"size": 50}})
    assert decision.follow == {"big", "audit"}
    assert decision.skip == {"small"}


def test_controller() -> None:
    d = load("controller")
    assert d.get_task("fetch_a").is_async is True
    assert upstream(d, "check_0") == {"fetch_a", "fetch_b", "compute"}
    assert upstream(d, "trigger_downstream") == {"check_0", "check_1"}
    assert d.get_task("compute").execute({"ds": "2024-01-01"}) == {"ds": "2024-01-01", "value": 42}


@pytest.mark.parametrize("name", sorted(p.stem for p in DAGS.glob("*.py")))
def test_loading_twice_gives_independent_dags(name: str) -> None:
    assert load(name) is not load(name)
