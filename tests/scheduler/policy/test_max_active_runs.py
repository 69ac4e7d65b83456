"""Which queued DAG runs start, under max_active_runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_sc.domain import DagRunKey
from airflow_sc.scheduler.policy import QueuedRun, runs_to_start

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def run(
    dag: str, run_id: str, hours_ago: float, limit: int = 1, backfill: int | None = None
) -> QueuedRun:
    return QueuedRun(
        DagRunKey(dag, run_id),
        run_after=NOW - timedelta(hours=hours_ago),
        max_active_runs=limit,
        backfill_id=backfill,
        backfill_sort_ordinal=None if backfill is None else int(run_id[-1]),
    )


def ids(runs: list[QueuedRun]) -> list[str]:
    return [r.key.run_id for r in runs]


def test_oldest_runs_start_first_up_to_the_limit() -> None:
    queued = [run("d", "new", 1, limit=2), run("d", "old", 3, limit=2), run("d", "mid", 2, limit=2)]
    assert ids(runs_to_start(queued, running={}, now=NOW)) == ["old", "mid"]


def test_running_runs_use_up_the_limit() -> None:
    queued = [run("d", "r1", 2, limit=2), run("d", "r2", 1, limit=2)]
    assert ids(runs_to_start(queued, running={("d", None): 1}, now=NOW)) == ["r1"]
    assert runs_to_start(queued, running={("d", None): 2}, now=NOW) == []


def test_each_dag_has_its_own_limit() -> None:
    queued = [run("a", "a1", 2), run("a", "a2", 1), run("b", "b1", 2)]
    assert ids(runs_to_start(queued, running={}, now=NOW)) == ["a1", "b1"]


def test_runs_due_in_the_future_wait() -> None:
    queued = [run("d", "later", -1), run("d", "due", 0)]
    assert ids(runs_to_start(queued, running={}, now=NOW)) == ["due"]


def test_backfill_runs_have_their_own_limit_and_come_after_regular_runs() -> None:
    queued = [
        run("d", "bf2", 5, limit=1, backfill=7),
        run("d", "bf1", 4, limit=1, backfill=7),
        run("d", "regular", 1, limit=1),
    ]
    assert ids(runs_to_start(queued, running={}, now=NOW)) == ["regular", "bf1"]


def test_dags_with_fewer_running_runs_go_first() -> None:
    queued = [run("busy", "b", 5, limit=5), run("idle", "i", 1, limit=5)]
    started = runs_to_start(queued, running={("busy", None): 3}, now=NOW)
    assert ids(started) == ["i", "b"]
