"""The Grid's layout and the live stream's choice of notes, decided in plain code."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_sc.scheduler.changes.notes import Change, Note
from airflow_sc.ui.grid import GridRun, build_grid, changed_cells, task_order
from airflow_sc.ui.live import concerns_grid

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def test_tasks_come_after_their_upstream_tasks_in_definition_order() -> None:
    upstream = {"load": {"transform"}, "transform": {"extract"}, "report": {"load", "audit"}}
    order = task_order(["report", "load", "audit", "transform", "extract"], upstream)
    assert order == ["audit", "extract", "transform", "load", "report"]


def test_grid_runs_oldest_first_and_cells_default_to_none() -> None:
    newest_first = [GridRun(2, "r2", "running", WHEN), GridRun(1, "r1", "success", WHEN)]
    grid = build_grid(
        newest_first,
        ["a", "b"],
        [("r1", "a", "success"), ("r2", "a", None), ("r1", "gone", "failed")],
    )
    assert [r.run_id for r in grid.runs] == ["r1", "r2"]
    assert grid.task_ids == ["a", "b", "gone"]  # a task the newest version dropped keeps a row
    assert grid.state("r2", "a") == "none"
    assert grid.state("r2", "b") == "none"
    assert grid.state("r1", "gone") == "failed"


def test_changed_cells_are_the_new_and_the_moved() -> None:
    before = {("r1", "a"): "queued", ("r1", "b"): "none"}
    after = {("r1", "a"): "running", ("r1", "b"): "none", ("r2", "a"): "scheduled"}
    assert changed_cells(before, after) == {("r1", "a"): "running", ("r2", "a"): "scheduled"}


def test_a_grid_wakes_for_its_runs_newer_runs_and_unlisted_ones() -> None:
    shown = frozenset({3, 5})

    def note(runs: list[int] | None, change: Change = Change.RUNS_PROGRESSED) -> Note:
        return Note.of([change], runs)

    assert concerns_grid(note([5]), shown, 5)
    assert concerns_grid(note([9]), shown, 5)  # maybe a new run of this DAG
    assert concerns_grid(note(None), shown, 5)  # too many runs to list
    assert concerns_grid(note([], Change.ANY), shown, 5)
    assert not concerns_grid(note([4, 1]), shown, 5)  # other DAGs' runs
