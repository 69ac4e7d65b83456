"""TriggerDagRunOperator's request and LatestOnlyOperator's decision."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_sc.sdk import (
    DAG,
    AirflowException,
    CronDataIntervalTimetable,
    DagDefinitionError,
    DagRunTriggerException,
    EmptyOperator,
    LatestOnlyOperator,
    TriggerDagRunOperator,
)
from airflow_sc.sdk.context import RunInfo

UTC = dt.UTC
JAN1 = dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_trigger_dag_run_raises_the_full_request() -> None:
    op = TriggerDagRunOperator(
        task_id="trigger",
        trigger_dag_id="target",
        trigger_run_id="run-1",
        conf={"k": [1, 2]},
        logical_date="2024-02-01T00:00:00+00:00",
        reset_dag_run=True,
        wait_for_completion=True,
        poke_interval=5,
        allowed_states=["success", "skipped"],
    )
    with pytest.raises(DagRunTriggerException) as info:
        op.execute({})
    request = info.value
    assert request.trigger_dag_id == "target"
    assert request.dag_run_id == "run-1"
    assert request.conf == {"k": [1, 2]}
    assert request.logical_date == dt.datetime(2024, 2, 1, tzinfo=UTC)
    assert (request.reset_dag_run, request.wait_for_completion) == (True, True)
    assert request.poke_interval == 5
    assert request.allowed_states == ["success", "skipped"]
    assert request.failed_states == ["failed"]


def test_trigger_dag_run_defaults_to_now_and_a_manual_run_id() -> None:
    now = dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="target", clock=lambda: now)
    with pytest.raises(DagRunTriggerException) as info:
        op.execute({})
    assert info.value.logical_date == now
    assert info.value.dag_run_id == f"manual__{now.isoformat()}"
    assert info.value.conf == {}


def test_trigger_dag_run_with_no_logical_date() -> None:
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="target", logical_date=None)
    with pytest.raises(DagRunTriggerException) as info:
        op.execute({})
    assert info.value.logical_date is None


def test_trigger_dag_run_takes_json_conf_run_after_and_note() -> None:
    later = dt.datetime(2024, 3, 2, tzinfo=UTC)
    op = TriggerDagRunOperator(
        task_id="t",
        trigger_dag_id="target",
        conf='{"k": 1}',
        run_after="2024-03-02T00:00:00+00:00",
        note="hello",
    )
    with pytest.raises(DagRunTriggerException) as info:
        op.execute({})
    # As in Airflow: only run_after given -> no logical date; the run id from run_after.
    assert (info.value.conf, info.value.logical_date, info.value.run_after) == (
        {"k": 1},
        None,
        later,
    )
    assert (info.value.dag_run_id, info.value.note) == (f"manual__{later.isoformat()}", "hello")


def test_trigger_dag_run_rejects_conf_that_is_not_json() -> None:
    op = TriggerDagRunOperator(task_id="t", trigger_dag_id="x", conf={"when": object()})
    with pytest.raises(AirflowException, match="JSON serializable"):
        op.execute({})


def test_trigger_dag_run_rejects_overlapping_states() -> None:
    with pytest.raises(DagDefinitionError, match="overlap"):
        TriggerDagRunOperator(
            task_id="t", trigger_dag_id="x", allowed_states=["failed"], failed_states=["failed"]
        )


def latest_only_dag(now: dt.datetime, schedule: object = "@daily") -> DAG:
    with DAG("latest", schedule=schedule, start_date=JAN1) as d:
        gate = LatestOnlyOperator(task_id="latest_only", clock=lambda: now)
        gate >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    return d


def scheduled_run(start: dt.datetime, end: dt.datetime) -> RunInfo:
    return RunInfo(
        run_id="scheduled",
        run_after=end,
        logical_date=start,
        data_interval_start=start,
        data_interval_end=end,
        run_type="scheduled",
    )


def test_latest_scheduled_run_lets_downstream_run() -> None:
    d = latest_only_dag(now=dt.datetime(2024, 1, 1, 12, tzinfo=UTC))
    decision = d.get_task("latest_only").execute({"dag_run": scheduled_run(JAN1, JAN1)})
    assert decision.skip == frozenset()
    assert decision.follow == {"a", "b"}


def test_older_scheduled_run_skips_direct_downstream() -> None:
    d = latest_only_dag(now=dt.datetime(2024, 1, 5, tzinfo=UTC))
    decision = d.get_task("latest_only").execute({"dag_run": scheduled_run(JAN1, JAN1)})
    assert decision.skip == {"a", "b"}


def test_data_interval_schedules_use_the_next_interval() -> None:
    timetable = CronDataIntervalTimetable("@daily", timezone="UTC")
    jan2 = JAN1 + dt.timedelta(days=1)
    latest = latest_only_dag(now=jan2 + dt.timedelta(hours=3), schedule=timetable)
    assert (
        latest.get_task("latest_only").execute({"dag_run": scheduled_run(JAN1, jan2)}).skip == set()
    )
    stale = latest_only_dag(now=jan2 + dt.timedelta(days=2), schedule=timetable)
    assert stale.get_task("latest_only").execute({"dag_run": scheduled_run(JAN1, jan2)}).skip == {
        "a",
        "b",
    }


def test_manual_runs_are_never_skipped() -> None:
    d = latest_only_dag(now=dt.datetime(2030, 1, 1, tzinfo=UTC))
    run = RunInfo(run_id="manual", run_after=JAN1, run_type="manual")
    assert d.get_task("latest_only").execute({"dag_run": run}).skip == frozenset()
