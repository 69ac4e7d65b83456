"""One try of one task: how each way a task can end becomes a `TaskOutcome`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.sdk import (
    DAG,
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
    BaseOperator,
    BashOperator,
    EmptyOperator,
    PythonOperator,
    TaskDeferred,
    TriggerDagRunOperator,
    task,
)
from airflow_sc.sdk.context import RunInfo
from airflow_sc.secrets.connection import Connection
from airflow_sc.task_runner import (
    AirflowTaskTimeout,
    InMemoryTaskClient,
    TaskOutcome,
    arun_task,
    run_task,
)

TI = TaskInstanceState
LOG = logging.getLogger("tests.task_runner")
LOGICAL_DATE = dt.datetime(2024, 3, 5, 6, 0, tzinfo=dt.UTC)


def make_run(dag: DAG, conf: Mapping[str, Any] | None = None) -> RunInfo:
    return RunInfo(
        run_id="manual__test",
        run_after=LOGICAL_DATE,
        logical_date=LOGICAL_DATE,
        data_interval_start=LOGICAL_DATE,
        data_interval_end=LOGICAL_DATE,
        conf=dict(conf or {}),
        dag_id=dag.dag_id,
    )


def new_dag(dag_id: str = "d", **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1), **kwargs)


@pytest.fixture
def store() -> InMemoryTaskClient:
    return InMemoryTaskClient(
        dag_id="d",
        run_id="manual__test",
        variables={"greeting": "hello", "cfg": '{"n": 3}'},
        connections={
            "warehouse": "postgres://bob:pw@db.example:5432/dwh",
            "api": Connection(conn_id="api", conn_type="http", host="api.example"),
        },
    )


def execute(
    op: BaseOperator,
    store: InMemoryTaskClient,
    *,
    try_number: int = 1,
    conf: Mapping[str, Any] | None = None,
) -> TaskOutcome:
    dag = op.dag
    return run_task(
        op,
        dag=dag,
        run=make_run(dag, conf),
        try_number=try_number,
        client=store.for_task(op.task_id),
        log=LOG,
    )


def test_success_pushes_the_return_value_and_calls_on_success(
    store: InMemoryTaskClient,
) -> None:
    seen: list[Mapping[str, Any]] = []
    with new_dag() as dag:
        op = PythonOperator(
            task_id="compute", python_callable=lambda: [1, 2], on_success_callback=seen.append
        )
    outcome = execute(op, store)
    assert outcome.state is TI.SUCCESS
    assert outcome.return_value == [1, 2]
    assert outcome.try_number == 1
    assert outcome.duration >= 0
    assert store.xcom_pull("compute", "return_value") == [1, 2]
    assert len(seen) == 1
    assert seen[0]["ti"].task_id == "compute"
    assert seen[0]["dag"] is dag


def test_multiple_outputs_pushes_every_key(store: InMemoryTaskClient) -> None:
    with new_dag():

        @task(multiple_outputs=True)
        def split() -> dict[str, int]:
            return {"left": 1, "right": 2}

        op = split().operator
    assert execute(op, store).state is TI.SUCCESS
    assert store.xcom_pull("split", "left") == 1
    assert store.xcom_pull("split", "right") == 2
    assert store.xcom_pull("split", "return_value") == {"left": 1, "right": 2}


def test_multiple_outputs_without_a_dict_fails(store: InMemoryTaskClient) -> None:
    with new_dag():
        op = PythonOperator(task_id="bad", python_callable=lambda: 5, multiple_outputs=True)
    outcome = execute(op, store)
    assert outcome.state is TI.FAILED
    assert outcome.error is not None
    assert "expected a dictionary for multiple_outputs" in outcome.error


def test_xcom_args_and_ti_xcom_pull_read_upstream_values(store: InMemoryTaskClient) -> None:
    with new_dag():

        @task
        def produce() -> int:
            return 20

        @task
        def consume(value: int, ti: Any = None) -> int:
            return value + ti.xcom_pull(task_ids="produce") + ti.xcom_pull(task_ids=["produce"])[0]

        consumer = consume(produce()).operator
    producer = consumer.dag.get_task("produce")
    assert execute(producer, store).state is TI.SUCCESS
    assert execute(consumer, store).return_value == 60


def test_the_dags_task_is_left_unrendered(store: InMemoryTaskClient) -> None:
    with new_dag():
        op = BashOperator(task_id="say", bash_command="echo {{ ds }} {{ params.who }}")
    outcome = execute(op, store, conf={"who": "alice"})
    assert outcome.return_value == "2024-03-05 alice"
    assert op.bash_command == "echo {{ ds }} {{ params.who }}"


def test_templates_read_variables_and_connections(store: InMemoryTaskClient) -> None:
    command = (
        "echo {{ var.value.greeting }} {{ var.json.cfg.n }} {{ conn.warehouse.host }}"
        ":{{ conn.warehouse.port }} {{ conn.api.host }}"
    )
    with new_dag():
        op = BashOperator(task_id="say", bash_command=command)
    assert execute(op, store).return_value == "hello 3 db.example:5432 api.example"


def test_a_missing_variable_fails_the_try(store: InMemoryTaskClient) -> None:
    with new_dag():
        op = BashOperator(task_id="say", bash_command="echo {{ var.value.nope }}")
    outcome = execute(op, store)
    assert outcome.state is TI.FAILED
    assert outcome.error is not None
    assert "Variable 'nope' does not exist" in outcome.error


def test_params_that_conf_breaks_fail_the_try(store: InMemoryTaskClient) -> None:
    from airflow_sc.sdk import Param

    with new_dag(params={"n": Param(1, type="integer")}):
        op = EmptyOperator(task_id="noop")
    outcome = execute(op, store, conf={"n": "many"})
    assert outcome.state is TI.FAILED
    assert outcome.error is not None
    assert "param 'n'" in outcome.error


def test_branch_decision_succeeds_and_names_the_tasks_to_skip(
    store: InMemoryTaskClient,
) -> None:
    with new_dag():

        @task.branch
        def choose() -> str:
            return "left"

        branch = choose().operator
        branch >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]
    outcome = execute(branch, store)
    assert outcome.state is TI.SUCCESS
    assert outcome.skip == frozenset({"right"})
    assert outcome.return_value == "left"
    assert store.xcom_pull("choose", "return_value") == "left"


def test_skip_exception_skips_and_calls_on_skipped(store: InMemoryTaskClient) -> None:
    called: list[str] = []

    def skip() -> None:
        raise AirflowSkipException("nothing to do today")

    with new_dag():
        op = PythonOperator(
            task_id="maybe",
            python_callable=skip,
            on_skipped_callback=lambda ctx: called.append("skipped"),
            on_failure_callback=lambda ctx: called.append("failed"),
        )
    outcome = execute(op, store)
    assert outcome.state is TI.SKIPPED
    assert outcome.error == "nothing to do today"
    assert called == ["skipped"]


def test_fail_exception_fails_without_retry(store: InMemoryTaskClient) -> None:
    called: list[str] = []

    def fail() -> None:
        raise AirflowFailException("bad input, retrying will not help")

    with new_dag():
        op = PythonOperator(
            task_id="strict",
            python_callable=fail,
            retries=3,
            on_retry_callback=lambda ctx: called.append("retry"),
            on_failure_callback=lambda ctx: called.append(type(ctx["exception"]).__name__),
        )
    outcome = execute(op, store)
    assert outcome.state is TI.FAILED
    assert outcome.retry_allowed is False
    assert outcome.error is not None
    assert "bad input, retrying will not help" in outcome.error
    assert called == ["AirflowFailException"]


def test_other_exceptions_retry_while_tries_remain(store: InMemoryTaskClient) -> None:
    called: list[tuple[str, int]] = []

    def flaky() -> None:
        raise ValueError("flaky")

    with new_dag():
        op = PythonOperator(
            task_id="flaky",
            python_callable=flaky,
            retries=1,
            on_retry_callback=lambda ctx: called.append(("retry", ctx["ti"].try_number)),
            on_failure_callback=lambda ctx: called.append(("failure", ctx["ti"].try_number)),
        )
    first = execute(op, store, try_number=1)
    second = execute(op, store, try_number=2)
    assert (first.state, second.state) == (TI.UP_FOR_RETRY, TI.FAILED)
    assert first.retry_allowed
    assert second.retry_allowed
    assert second.error is not None
    assert "ValueError: flaky" in second.error
    assert called == [("retry", 1), ("failure", 2)]


def test_a_failing_callback_is_logged_and_changes_nothing(
    store: InMemoryTaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_callback(context: Mapping[str, Any]) -> None:
        raise RuntimeError("callback bug")

    with new_dag():
        op = PythonOperator(
            task_id="ok",
            python_callable=lambda: "done",
            on_execute_callback=broken_callback,
            on_success_callback=broken_callback,
        )
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        outcome = execute(op, store)
    assert outcome.state is TI.SUCCESS
    assert outcome.return_value == "done"
    messages = [r.getMessage() for r in caplog.records]
    assert any("on_execute_callback" in m for m in messages)
    assert any("on_success_callback" in m for m in messages)


def test_trigger_dag_run_request_is_performed_through_the_client(
    store: InMemoryTaskClient,
) -> None:
    with new_dag():
        op = TriggerDagRunOperator(
            task_id="kick",
            trigger_dag_id="other",
            trigger_run_id="run-{{ ds_nodash }}",
            conf={"day": "{{ ds }}"},
        )
    outcome = execute(op, store.for_task("kick"))
    assert outcome.state is TI.SUCCESS
    [request] = store.triggered
    assert (request.dag_id, request.run_id) == ("other", "run-20240305")
    assert request.conf == {"day": "2024-03-05"}
    assert store.xcom_pull("kick", "trigger_run_id") == "run-20240305"


def test_deferral_and_reschedule_are_surfaced(store: InMemoryTaskClient) -> None:
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    def defer() -> None:
        raise TaskDeferred(trigger="a-trigger", method_name="resume")

    def reschedule() -> None:
        raise AirflowRescheduleException(at)

    with new_dag():
        deferring = PythonOperator(task_id="defer", python_callable=defer)
        rescheduling = PythonOperator(task_id="poke", python_callable=reschedule)
    deferred = execute(deferring, store)
    assert deferred.state is TI.DEFERRED
    assert deferred.deferral is not None
    assert deferred.deferral.method_name == "resume"
    poked = execute(rescheduling, store)
    assert poked.state is TI.UP_FOR_RESCHEDULE
    assert poked.reschedule_at == at


@pytest.mark.anyio
async def test_async_task_is_awaited_in_the_running_loop(store: InMemoryTaskClient) -> None:
    with new_dag():

        @task
        async def fetch(n: int) -> int:
            await anyio.lowlevel.checkpoint()
            return n * 2

        op = fetch(21).operator
    assert op.is_async
    outcome = await arun_task(
        op, dag=op.dag, run=make_run(op.dag), try_number=1, client=store.for_task("fetch"), log=LOG
    )
    assert outcome.state is TI.SUCCESS
    assert outcome.return_value == 42
    assert store.xcom_pull("fetch", "return_value") == 42


@pytest.mark.anyio
async def test_async_task_past_its_execution_timeout_fails(store: InMemoryTaskClient) -> None:
    with new_dag():

        @task(execution_timeout=dt.timedelta(0), retries=1)
        async def hang() -> None:
            await anyio.Event().wait()

        op = hang().operator
    outcome = await arun_task(
        op, dag=op.dag, run=make_run(op.dag), try_number=1, client=store.for_task("hang"), log=LOG
    )
    assert outcome.state is TI.UP_FOR_RETRY
    assert outcome.error is not None
    assert AirflowTaskTimeout.__name__ in outcome.error


@pytest.mark.anyio
async def test_cancelling_the_caller_cancels_the_try_without_an_outcome(
    store: InMemoryTaskClient,
) -> None:
    called: list[str] = []
    with new_dag():

        @task(on_failure_callback=lambda ctx: called.append("failure"))
        async def hang() -> None:
            await anyio.Event().wait()

        op = hang().operator
    with anyio.move_on_after(0) as scope:
        await arun_task(
            op,
            dag=op.dag,
            run=make_run(op.dag),
            try_number=1,
            client=store.for_task("hang"),
            log=LOG,
        )
    assert scope.cancelled_caught
    assert called == []


class _AsyncSleeper(BaseOperator):
    is_async = True

    def __init__(self, *, killed: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.killed = killed

    async def aexecute(self, context: Mapping[str, Any]) -> None:
        await anyio.sleep(600)

    def on_kill(self) -> None:
        self.killed.append(self.task_id)


@pytest.mark.anyio
async def test_an_async_task_cancelled_from_outside_gets_on_kill(
    store: InMemoryTaskClient,
) -> None:
    killed: list[str] = []
    with new_dag():
        op = _AsyncSleeper(killed=killed, task_id="sleeper")
    with anyio.move_on_after(0.2):
        await arun_task(op, dag=op.dag, run=make_run(op.dag), try_number=1, client=store, log=LOG)
    assert killed == ["sleeper"]
