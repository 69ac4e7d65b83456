"""The change feed: one interface for wake-ups, each change waking only the stages it concerns."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_sc.db import Database
from airflow_sc.scheduler.changes import Change, ChangeFeed, Note, stage_subscriber, wake_stages
from airflow_sc.scheduler.changes.notes import MAX_LISTED_RUNS, decode_note, encode_note
from airflow_sc.scheduler.wakeups import StageWakeups
from airflow_sc.sdk import DAG, PythonOperator
from tests.scheduler.dags import (
    T0,
    FakeClock,
    changes_of,
    memory_executor,
    open_scheduler,
    store_dag,
)


def noop() -> None:
    return None


def woken(wakeups: StageWakeups) -> set[str]:
    names = ("create_runs", "start_runs", "schedule_tis", "enqueue", "housekeeping")
    return {name for name in names if getattr(wakeups, name).is_set()}


def test_a_note_round_trips_and_lists_runs_only_up_to_a_limit() -> None:
    payload = encode_note(Note.of([Change.TIS_FINISHED], {3, 1}, origin="api"))
    assert decode_note(payload) == Note(frozenset({Change.TIS_FINISHED}), frozenset({1, 3}), "api")
    many = encode_note(Note.of([Change.RUNS_CHANGED], range(MAX_LISTED_RUNS + 1)))
    assert len(many) < 100
    decoded = decode_note(many)
    assert decoded is not None
    assert decoded.run_pks is None


@pytest.mark.parametrize("payload", ["", "not json", "{}", '{"c": ["unknown"]}', '{"c": 1}'])
def test_notes_that_are_not_understood_are_ignored(payload: str) -> None:
    assert decode_note(payload) is None


@pytest.mark.parametrize(
    ("change", "runs", "expected", "dirty"),
    [
        (Change.DAG_CHANGED, None, {"create_runs", "start_runs", "schedule_tis", "enqueue"}, set()),
        (Change.RUNS_CREATED, frozenset({5}), {"start_runs"}, set()),
        # A finished try: schedule_tis for its run, enqueue for the freed slot; nothing else.
        (Change.TIS_FINISHED, frozenset({5, 6}), {"schedule_tis", "enqueue"}, {5, 6}),
        (Change.RUNS_CHANGED, frozenset({5}), {"start_runs", "schedule_tis", "enqueue"}, {5}),
        # Too many runs to list: schedule_tis is woken with nothing dirty (a full sweep).
        (Change.TIS_FINISHED, None, {"schedule_tis", "enqueue"}, set()),
        (
            Change.ANY,
            None,
            {"create_runs", "start_runs", "schedule_tis", "enqueue", "housekeeping"},
            set(),
        ),
    ],
)
def test_each_change_wakes_the_stages_that_continue_from_it(
    change: Change, runs: frozenset[int] | None, expected: set[str], dirty: set[int]
) -> None:
    wakeups = StageWakeups()
    wake_stages(Note(frozenset({change}), runs), wakeups)
    assert woken(wakeups) == expected
    assert wakeups.take_dirty() == dirty


def test_subscribers_hear_announcements_and_deliveries_senders_only_announcements() -> None:
    feed = ChangeFeed()
    heard: list[Note] = []
    sent: list[Note] = []
    wakeups = StageWakeups()
    feed.add_outbound(sent.append)
    with feed.subscribe(heard.append), feed.subscribe(stage_subscriber(wakeups)):
        feed.tis_finished([4])
        feed.deliver(Note.of([Change.RUNS_CREATED], [9], origin="another-process"))
    feed.dag_changed()  # nobody subscribed any more: only sent on
    assert [n.changes for n in heard] == [
        frozenset({Change.TIS_FINISHED}),
        frozenset({Change.RUNS_CREATED}),
    ]
    assert all(n.origin == feed.origin for n in sent)
    assert [n.changes for n in sent] == [
        frozenset({Change.TIS_FINISHED}),
        frozenset({Change.DAG_CHANGED}),
    ]
    assert wakeups.take_dirty() == {4}
    assert woken(wakeups) == {"schedule_tis", "enqueue", "start_runs"}


def test_an_operator_action_wakes_for_its_runs_or_for_its_dags() -> None:
    feed = ChangeFeed()
    heard: list[Note] = []
    with feed.subscribe(heard.append):
        feed.operator_changed([3])  # cleared, marked, triggered
        feed.operator_changed([])  # paused or unpaused
    assert [(n.changes, n.run_pks) for n in heard] == [
        (frozenset({Change.RUNS_CHANGED}), frozenset({3})),
        (frozenset({Change.DAG_CHANGED}), frozenset()),
    ]


def test_a_failing_sender_does_not_stop_the_others() -> None:
    feed = ChangeFeed()
    sent: list[Note] = []

    def broken(note: Note) -> None:
        raise OSError("no route")

    feed.add_outbound(broken)
    feed.add_outbound(sent.append)
    feed.dag_changed()
    assert len(sent) == 1


@pytest.mark.anyio
async def test_a_subscriber_follows_the_runs_the_scheduler_moves_along(
    db: Database, clock: FakeClock
) -> None:
    """What a live view of runs subscribes to: every run the pipeline moves, by id, while
    the scheduler's own progress wakes none of its stages."""
    with DAG("followed", schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        PythonOperator(task_id="a", python_callable=noop) >> PythonOperator(
            task_id="b", python_callable=noop
        )
    await store_dag(db, dag, now=clock.now)
    heard: list[Note] = []
    with changes_of(db).subscribe(heard.append):
        async with open_scheduler(db, [memory_executor(db, clock)], clock) as running:
            [run] = await running.wait_run_state("followed", "success")
    progressed = {
        pk for note in heard if Change.RUNS_PROGRESSED in note.changes for pk in note.run_pks or ()
    }
    finished = {
        pk for note in heard if Change.TIS_FINISHED in note.changes for pk in note.run_pks or ()
    }
    assert progressed == finished == {run["id"]}
    wakeups = StageWakeups()
    wake_stages(Note.of([Change.RUNS_PROGRESSED], [run["id"]]), wakeups)
    assert woken(wakeups) == set()
