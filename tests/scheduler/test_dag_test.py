"""A whole DAG run in process: trigger rules, skips, retries, XComs between tasks."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import anyio
import anyio.lowlevel

from airflow_sc.domain.states import DagRunState, TaskInstanceState
from airflow_sc.scheduler.dag_test import DagTestResult, manual_run_info, run_dag_test
from airflow_sc.sdk import (
    DAG,
    AirflowFailException,
    BashOperator,
    EmptyOperator,
    TriggerRule,
    dag,
    task,
)
from airflow_sc.sdk.timetables import DataInterval

TI = TaskInstanceState
NOW = dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC)


def new_dag(dag_id: str = "d", **kwargs: Any) -> DAG:
    kwargs.setdefault("schedule", None)
    return DAG(dag_id, start_date=dt.datetime(2024, 1, 1), **kwargs)


def run(the_dag: DAG, logical_date: dt.datetime | None = None) -> tuple[DagTestResult, list[str]]:
    lines: list[str] = []
    info = manual_run_info(the_dag, logical_date=logical_date, now=NOW)
    return run_dag_test(the_dag, info, out=lines.append), lines


def states(result: DagTestResult) -> dict[str, TaskInstanceState | None]:
    return {task_id: r.state for task_id, r in result.tasks.items()}


def without_timing(lines: list[str]) -> list[str]:
    return [re.sub(r", \d+\.\d\ds\)", ")", line) for line in lines]


def test_manual_run_info_takes_the_interval_from_the_timetable() -> None:
    daily = new_dag("daily", schedule="@daily")
    info = manual_run_info(daily, logical_date=dt.datetime(2024, 3, 5, tzinfo=dt.UTC), now=NOW)
    expected = daily.timetable.infer_manual_data_interval(run_after=info.run_after)
    assert DataInterval(info.data_interval_start, info.data_interval_end) == expected  # type: ignore[arg-type]
    assert info.run_id == "manual__2024-03-05T00:00:00+00:00"
    assert manual_run_info(daily, logical_date=None, now=NOW).logical_date == NOW


def test_taskflow_values_flow_between_tasks_and_each_result_is_printed() -> None:
    @dag(schedule=None, start_date=dt.datetime(2024, 1, 1))
    def etl() -> None:
        @task
        def extract() -> dict[str, int]:
            return {"a": 1}

        @task
        def transform(data: dict[str, int]) -> int:
            return data["a"] + 1

        @task
        def load(total: int) -> None:
            assert total == 2

        load(transform(extract()))

    result, lines = run(etl())
    assert result.state is DagRunState.SUCCESS
    assert without_timing(lines) == [
        "[success] extract (try 1) -> {'a': 1}",
        "[success] transform (try 1) -> 2",
        "[success] load (try 1)",
    ]
    assert result.tasks["transform"].return_value == 2
    assert result.client.xcom_pull("extract", "a") == 1  # a dict return infers multiple_outputs


def test_branch_skips_the_other_path_and_the_join_still_runs() -> None:
    with new_dag() as the_dag:

        @task.branch
        def choose() -> str:
            return "fast"

        fast = EmptyOperator(task_id="fast")
        slow = EmptyOperator(task_id="slow")
        after_slow = EmptyOperator(task_id="after_slow")
        join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        choose() >> [fast, slow]
        slow >> after_slow
        [fast, after_slow] >> join
    result, lines = run(the_dag)
    assert states(result) == {
        "choose": TI.SUCCESS,
        "fast": TI.SUCCESS,
        "slow": TI.SKIPPED,
        "after_slow": TI.SKIPPED,
        "join": TI.SUCCESS,
    }
    assert result.state is DagRunState.SUCCESS
    assert "[success] choose (try 1) -> 'fast'; skipping slow" in without_timing(lines)
    assert "[skipped] slow (not run: skipped by choose)" in lines
    assert "[skipped] after_slow (not run: trigger rule all_success)" in lines


def test_short_circuit_skips_everything_downstream() -> None:
    with new_dag() as the_dag:

        @task.short_circuit
        def worth_it() -> bool:
            return False

        first = EmptyOperator(task_id="first")
        second = EmptyOperator(task_id="second", trigger_rule=TriggerRule.ALL_DONE)
        worth_it() >> first >> second
    result, _ = run(the_dag)
    assert states(result) == {"worth_it": TI.SUCCESS, "first": TI.SKIPPED, "second": TI.SKIPPED}
    assert result.succeeded


def test_retries_run_at_once_and_are_counted() -> None:
    with new_dag() as the_dag:

        @task(retries=2, retry_delay=dt.timedelta(minutes=5))
        def flaky(ti: Any = None) -> str:
            if ti.try_number < 3:
                raise ConnectionError(f"try {ti.try_number} lost the connection")
            return "finally"

        flaky()
    result, lines = run(the_dag)
    assert result.succeeded
    assert result.tasks["flaky"].tries == 3
    assert without_timing(lines) == [
        "[up_for_retry] flaky (try 1): ConnectionError: try 1 lost the connection; "
        "retrying now (retry delay of 0:05:00 skipped)",
        "[up_for_retry] flaky (try 2): ConnectionError: try 2 lost the connection; "
        "retrying now (retry delay of 0:05:00 skipped)",
        "[success] flaky (try 3) -> 'finally'",
    ]


def test_fail_exception_ends_the_task_despite_retries() -> None:
    with new_dag() as the_dag:

        @task(retries=5)
        def strict() -> None:
            raise AirflowFailException("no point retrying")

        strict() >> EmptyOperator(task_id="after")
    result, lines = run(the_dag)
    assert result.state is DagRunState.FAILED
    assert result.tasks["strict"].tries == 1
    assert states(result) == {"strict": TI.FAILED, "after": TI.UPSTREAM_FAILED}
    assert without_timing(lines) == [
        "[failed] strict (try 1): airflow_sc.sdk.exceptions.AirflowFailException: "
        "no point retrying",
        "[upstream_failed] after (not run: trigger rule all_success)",
    ]


def test_failure_trigger_rules_run_the_cleanup_tasks() -> None:
    with new_dag() as the_dag:

        @task
        def broken() -> None:
            raise RuntimeError("disk full")

        ok = EmptyOperator(task_id="ok")
        failure = broken()
        all_failed = EmptyOperator(task_id="all_failed", trigger_rule=TriggerRule.ALL_FAILED)
        one_failed = EmptyOperator(task_id="one_failed", trigger_rule=TriggerRule.ONE_FAILED)
        normal = EmptyOperator(task_id="normal")
        failure >> all_failed
        [failure, ok] >> one_failed
        [failure, ok] >> normal
        also_failed = EmptyOperator(task_id="needs_all_failed", trigger_rule="all_failed")
        [failure, ok] >> also_failed
    result, _ = run(the_dag)
    assert states(result) == {
        "broken": TI.FAILED,
        "ok": TI.SUCCESS,
        "all_failed": TI.SUCCESS,
        "one_failed": TI.SUCCESS,
        "normal": TI.UPSTREAM_FAILED,
        "needs_all_failed": TI.SKIPPED,
    }
    assert result.state is DagRunState.FAILED


def test_async_tasks_run_on_their_own_loop() -> None:
    with new_dag() as the_dag:

        @task
        async def fetch() -> list[int]:
            await anyio.lowlevel.checkpoint()
            return [1, 2, 3]

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        total(fetch())
    result, lines = run(the_dag)
    assert result.succeeded
    assert result.tasks["total"].return_value == 6
    assert without_timing(lines)[0] == "[success] fetch (try 1) -> [1, 2, 3]"


def test_bash_templates_see_the_logical_date() -> None:
    with new_dag("daily", schedule="@daily") as the_dag:
        BashOperator(task_id="stamp", bash_command="echo {{ ds }} {{ dag_run.run_type }}")
    result, lines = run(the_dag, logical_date=dt.datetime(2024, 2, 29, 18, tzinfo=dt.UTC))
    assert result.tasks["stamp"].return_value == "2024-02-29 manual"
    assert without_timing(lines) == ["[success] stamp (try 1) -> '2024-02-29 manual'"]


def test_dag_callbacks_run_with_the_outcome() -> None:
    reasons: list[str] = []

    with new_dag(on_failure_callback=lambda ctx: reasons.append(ctx["reason"])) as the_dag:

        @task
        def broken() -> None:
            raise RuntimeError("nope")

        broken()
    result, _ = run(the_dag)
    assert result.state is DagRunState.FAILED
    assert reasons == ["task_failure"]


def test_a_deferring_task_fails_with_an_explanation() -> None:
    from airflow_sc.sdk import TaskDeferred

    with new_dag() as the_dag:

        @task
        def wait_for_it() -> None:
            raise TaskDeferred(trigger="FileTrigger('/tmp/x')", method_name="resume")

        wait_for_it()
    result, lines = run(the_dag)
    assert result.state is DagRunState.FAILED
    assert "dags test cannot run triggers" in lines[0]


def test_trigger_requests_are_reported_not_performed() -> None:
    from airflow_sc.sdk import TriggerDagRunOperator

    with new_dag() as the_dag:
        TriggerDagRunOperator(
            task_id="kick", trigger_dag_id="downstream_dag", trigger_run_id="from-{{ ds }}"
        )
    result, lines = run(the_dag, logical_date=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert result.succeeded
    assert without_timing(lines) == [
        "[success] kick (try 1) -> would trigger DAG 'downstream_dag' with run id "
        "'from-2024-01-02' (dags test does not start other DAGs)"
    ]


def test_waiting_for_a_triggered_run_fails_the_task_in_dags_test() -> None:
    from airflow_sc.sdk import TriggerDagRunOperator

    with new_dag() as the_dag:
        TriggerDagRunOperator(
            task_id="kick", trigger_dag_id="downstream_dag", wait_for_completion=True
        )
    result, lines = run(the_dag)
    assert result.state is DagRunState.FAILED
    assert "starts no other DAG's runs" in lines[0]


def test_a_rescheduled_task_waits_and_pokes_again_in_the_same_try() -> None:
    from airflow_sc.sdk import AirflowRescheduleException

    pokes: list[int] = []
    waits: list[float] = []

    with new_dag() as the_dag:

        @task
        def sensor(ti: Any = None) -> str:
            pokes.append(ti.try_number)
            if len(pokes) < 2:
                raise AirflowRescheduleException(NOW + dt.timedelta(seconds=90))
            return "found"

        sensor()
    info = manual_run_info(the_dag, logical_date=None, now=NOW)
    lines: list[str] = []
    result = run_dag_test(the_dag, info, out=lines.append, sleep=waits.append, utcnow=lambda: NOW)
    assert result.succeeded
    assert pokes == [1, 1]
    assert waits == [90.0]
    assert without_timing(lines) == [
        "[up_for_reschedule] sensor (try 1): rescheduled to 2024-06-01T12:31:30+00:00; waiting",
        "[success] sensor (try 1) -> 'found'",
    ]
