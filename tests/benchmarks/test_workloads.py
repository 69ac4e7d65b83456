"""The workload benchmark's DAG files and arithmetic (`make bench` runs the harness)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from benchmarks.workloads.figures import (
    TaskTiming,
    median_rows,
    percentile,
    task_lags,
    timing_figures,
)
from benchmarks.workloads.process_tree import ProcessTreeMeter
from benchmarks.workloads.shapes import WORKLOADS, write_dag_files

from airflow_sc.dag_processing.parsing import parse_file
from airflow_sc.serialization.spec import DagSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_generated_file_parses_into_the_workloads_shape(name: str, tmp_path: Path) -> None:
    workload = WORKLOADS[name].scaled(3)
    dag_ids = write_dag_files(workload, tmp_path)

    assert sorted(p.stem for p in tmp_path.glob("*.py")) == sorted(dag_ids)
    assert len(dag_ids) == (1 if WORKLOADS[name].dags == 1 else 3)
    for dag_id in dag_ids:
        parsed = parse_file(str(tmp_path / f"{dag_id}.py"))
        assert parsed["errors"] == []
        [document] = parsed["dags"]
        spec = DagSpec.from_dict(document)
        assert spec.dag_id == dag_id
        assert len(spec.tasks) == workload.tasks_per_dag
        layers = [
            sorted(t.task_id for t in spec.tasks.values() if t.task_id.startswith(f"l{n:02d}_"))
            for n in range(workload.layers)
        ]
        assert all(len(layer) == workload.width for layer in layers)
        for upper, lower in zip(layers, [*layers[1:], []], strict=True):
            for task_id in upper:
                assert sorted(spec.tasks[task_id].downstream_task_ids) == lower
        assert {t.is_async for t in spec.tasks.values()} == {workload.asynchronous}
        assert {t.operator for t in spec.tasks.values()} == {"PythonOperator"}


def test_the_workloads_have_the_sizes_workloads_md_gives() -> None:
    assert {n: w.task_instances for n, w in WORKLOADS.items()} == {
        "W1": 1000,
        "W2": 40,
        "W3": 200,
        "W1a": 1000,
        "W2a": 40,
    }
    assert WORKLOADS["W2"].is_chain
    assert not WORKLOADS["W1"].is_chain
    assert WORKLOADS["W2"].scaled(5) == WORKLOADS["W2"]


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 5.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0


def _at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def _chain(*spans: tuple[float, float], dag_id: str = "d") -> list[TaskTiming]:
    return [
        TaskTiming(dag_id, "r", f"l{i:02d}_t0", "success", _at(start), _at(end))
        for i, (start, end) in enumerate(spans)
    ]


def test_task_lag_is_next_start_minus_previous_end() -> None:
    chain = _chain((10, 20), (25, 30), (40, 41))
    assert task_lags(chain) == pytest.approx([0.005, 0.010])


def test_chain_figures_from_database_times() -> None:
    # Stored out of order: the figures sort each run's chain by task id.
    timings = list(reversed(_chain((10, 20), (25, 30), (40, 41), (42, 50))))
    figures = timing_figures(timings, first_trigger=_at(0), chain=True)
    assert figures["wall_s"] == pytest.approx(0.050)
    assert figures["ti_per_s"] == pytest.approx(80.0)
    assert figures["pickup_ms"] == pytest.approx(10.0)
    assert figures["lag_p50_ms"] == pytest.approx(5.0)
    assert figures["lag_p95_ms"] == pytest.approx(9.5)
    assert figures["lag_total_s"] == pytest.approx(0.016)
    assert (figures["succeeded"], figures["failed"]) == (4, 0)


def test_lags_never_span_two_runs() -> None:
    timings = _chain((0, 10), (12, 20), dag_id="a") + _chain((500, 510), (511, 520), dag_id="b")
    figures = timing_figures(timings, first_trigger=_at(0), chain=True)
    assert figures["lag_total_s"] == pytest.approx(0.003)


def test_failures_are_counted_and_do_not_add_throughput() -> None:
    timings = [
        TaskTiming("d", "r", "a", "success", _at(0), _at(100)),
        TaskTiming("d", "r", "b", "failed", _at(0), _at(200)),
    ]
    figures = timing_figures(timings, first_trigger=_at(0), chain=False)
    assert (figures["succeeded"], figures["failed"]) == (1, 1)
    assert figures["ti_per_s"] == pytest.approx(5.0)
    assert "lag_p50_ms" not in figures


def test_median_rows_group_by_key_and_skip_missing_values() -> None:
    runs = [
        {"workload": "W1", "database": "sqlite", "wall_s": 3.0, "lag_p50_ms": None},
        {"workload": "W1", "database": "sqlite", "wall_s": 1.0, "lag_p50_ms": None},
        {"workload": "W1", "database": "sqlite", "wall_s": 2.0, "lag_p50_ms": None},
        {"workload": "W2", "database": "sqlite", "wall_s": 9.0, "lag_p50_ms": 4.0},
    ]
    rows = median_rows(runs, ["workload", "database"], ["wall_s", "lag_p50_ms"])
    assert rows == [
        {"workload": "W1", "database": "sqlite", "runs": 3, "wall_s": 2.0, "lag_p50_ms": None},
        {"workload": "W2", "database": "sqlite", "runs": 1, "wall_s": 9.0, "lag_p50_ms": 4.0},
    ]


BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_cpu_of_a_reaped_short_lived_child_is_counted(tmp_path: Path) -> None:
    """A child that burned CPU and was reaped before any sample still counts (children_*)."""
    marker = tmp_path / "child-done"
    parent = textwrap.dedent(
        f"""
        import pathlib, subprocess, sys
        subprocess.run([sys.executable, "-c", {BURN!r}], check=True)
        pathlib.Path({str(marker)!r}).touch()
        sys.stdin.read()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE)
    try:
        meter = ProcessTreeMeter(process.pid)
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        measured = meter.cpu_seconds()
        assert measured.seconds >= 0.3
        assert measured.processes == 1
        assert measured.by_role["root"] == measured.seconds
        meter.sample()
        assert meter.peak_rss > 0
    finally:
        process.communicate(b"", timeout=30)
