"""The Grid's layout and the live stream's choice of notes, decided in plain code."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_sc.scheduler.changes.notes import Change, Note
from airflow_sc.ui.grid import (
    GridRun,
    build_grid,
    changed_cells,
    grid_rows,
    group_state,
    task_order,
)
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


# -- task groups ----------------------------------------------------------------------------

GROUPS = {
    "": {"parent": None, "children": ["extract", "transform", "load"]},
    "transform": {"parent": None, "children": ["transform.clean", "transform.inner"]},
    "transform.inner": {"parent": "transform", "children": ["transform.inner.join"]},
}
TASK_GROUP = {
    "extract": None,
    "transform.clean": "transform",
    "transform.inner.join": "transform.inner",
    "load": None,
}
ORDER = ["extract", "transform.clean", "transform.inner.join", "load"]


def _rows(expand: list[str]) -> list[tuple[str, str, int, bool, bool]]:
    return [
        (r.id, r.label, r.depth, r.group, r.expanded)
        for r in grid_rows(ORDER, GROUPS, TASK_GROUP, expand)
    ]


def test_groups_are_collapsed_rows_where_their_first_task_would_be() -> None:
    assert _rows([]) == [
        ("extract", "extract", 0, False, False),
        ("transform", "transform", 0, True, False),
        ("load", "load", 0, False, False),
    ]
    [group] = [r for r in grid_rows(ORDER, GROUPS, TASK_GROUP, []) if r.group]
    assert set(group.tasks) == {"transform.clean", "transform.inner.join"}


def test_an_expanded_group_shows_its_children_one_level_deeper() -> None:
    assert _rows(["transform"]) == [
        ("extract", "extract", 0, False, False),
        ("transform", "transform", 0, True, True),
        ("transform.clean", "clean", 1, False, False),
        ("transform.inner", "inner", 1, True, False),
        ("load", "load", 0, False, False),
    ]
    # A nested group opens only inside its open parent; alone it stays hidden.
    assert ("transform.inner.join", "join", 2, False, False) in _rows(
        ["transform", "transform.inner"]
    )
    assert _rows(["transform.inner"]) == _rows([])


def test_a_group_summary_follows_airflows_precedence() -> None:
    assert group_state(["success", "failed", "running"]) == "failed"
    assert group_state(["success", "running", None]) == "running"
    assert group_state(["success", None]) == "none"
    assert group_state(["success", "skipped"]) == "success"
    assert group_state(["skipped", "skipped"]) == "skipped"
    assert group_state(["upstream_failed", "queued"]) == "upstream_failed"


def test_shown_keeps_only_the_cells_on_screen_with_group_summaries() -> None:
    grid = build_grid(
        [GridRun(1, "r1", "running", WHEN)],
        ORDER,
        [
            ("r1", "extract", "success"),
            ("r1", "transform.clean", "success"),
            ("r1", "transform.inner.join", "running"),
            ("r1", "dropped", "failed"),
        ],
    )
    shown = grid.shown(grid_rows(ORDER, GROUPS, TASK_GROUP, []))
    assert shown.cells == {
        ("r1", "extract"): "success",
        ("r1", "transform"): "running",
        ("r1", "dropped"): "failed",
    }
    assert [r.id for r in shown.shown_rows] == ["extract", "transform", "load", "dropped"]
    # The live stream sends what changed among the shown cells: the group's summary.
    later = build_grid(
        [GridRun(1, "r1", "running", WHEN)],
        ORDER,
        [
            ("r1", "extract", "success"),
            ("r1", "transform.clean", "success"),
            ("r1", "transform.inner.join", "failed"),
        ],
    ).shown(grid_rows(ORDER, GROUPS, TASK_GROUP, []))
    assert changed_cells(shown.cells, later.cells) == {("r1", "transform"): "failed"}


def test_a_dag_without_groups_has_one_row_per_task() -> None:
    rows = grid_rows(["a", "b"], {"": {"parent": None, "children": ["b", "a"]}}, {}, [])
    assert [(r.id, r.group) for r in rows] == [("a", False), ("b", False)]
    assert [r.id for r in grid_rows(["a", "b"], {}, {}, [])] == ["a", "b"]
