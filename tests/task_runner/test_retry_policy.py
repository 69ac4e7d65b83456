"""retry_policy: the exception decides whether a failed try is retried."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.sdk import (
    DAG,
    AirflowFailException,
    ExceptionRetryPolicy,
    PythonOperator,
    RetryAction,
    RetryDecision,
    RetryPolicy,
    RetryRule,
)
from airflow_sc.sdk.context import RunInfo
from airflow_sc.task_runner import InMemoryTaskClient, run_task
from airflow_sc.task_runner.outcome import TaskOutcome

TI = TaskInstanceState
LOG = logging.getLogger("tests.task_runner")
WHEN = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)


class QuotaExceeded(Exception):
    pass


POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception=PermissionError, action=RetryAction.FAIL, reason="not retryable"),
        RetryRule(exception=["builtins.TimeoutError", ConnectionError]),
        RetryRule(exception=QuotaExceeded, action=RetryAction.FAIL, match_subclasses=False),
    ]
)


def raising(exc: BaseException) -> Any:
    def fail() -> None:
        raise exc

    return fail


def run_outcome(exc: BaseException, *, try_number: int = 1, **task: Any) -> TaskOutcome:
    with DAG("d", schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        op = PythonOperator(task_id="t", python_callable=raising(exc), **task)
    run = RunInfo(
        run_id="r",
        run_after=WHEN,
        logical_date=WHEN,
        data_interval_start=WHEN,
        data_interval_end=WHEN,
        conf={},
        dag_id="d",
    )
    client = InMemoryTaskClient(dag_id="d", run_id="r").for_task("t")
    return run_task(op, dag=dag, run=run, try_number=try_number, client=client, log=LOG)


def outcome(exc: BaseException, *, try_number: int = 1, **task: Any) -> TaskInstanceState:
    return run_outcome(exc, try_number=try_number, **task).state


class QuotaError(QuotaExceeded):
    pass


@pytest.mark.parametrize(
    ("exc", "state"),
    [
        (PermissionError("no"), TI.FAILED),  # FAIL: the retries left are not used
        (TimeoutError("slow"), TI.UP_FOR_RETRY),  # RETRY, matched by dotted path
        (ConnectionResetError("gone"), TI.UP_FOR_RETRY),  # a subclass matches
        (QuotaExceeded("quota"), TI.FAILED),
        (QuotaError("quota"), TI.UP_FOR_RETRY),  # exact class only: no match -> DEFAULT
        (ValueError("other"), TI.UP_FOR_RETRY),  # no rule: DEFAULT
        (AirflowFailException("stop"), TI.FAILED),  # never asks the policy
    ],
)
def test_the_policy_decides_from_the_exception(exc: BaseException, state: TI) -> None:
    assert outcome(exc, retries=2, retry_policy=POLICY) is state


def test_retry_cannot_add_tries_and_the_policy_applies_through_default_args() -> None:
    assert outcome(TimeoutError(), retries=1, try_number=2, retry_policy=POLICY) is TI.FAILED
    with DAG(
        "d2",
        schedule=None,
        start_date=dt.datetime(2024, 1, 1),
        default_args={"retry_policy": POLICY, "retries": 3},
    ):
        op = PythonOperator(task_id="t", python_callable=raising(PermissionError()))
    assert op.retry_policy is POLICY


class Broken(RetryPolicy):
    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
    ) -> RetryDecision:
        raise RuntimeError("the policy broke")


def test_a_policy_that_raises_leaves_the_usual_rule(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        assert outcome(ValueError(), retries=1, retry_policy=Broken()) is TI.UP_FOR_RETRY
    assert any("retry policy" in record.getMessage() for record in caplog.records)


DELAYING = ExceptionRetryPolicy(
    rules=[
        RetryRule(exception=TimeoutError, retry_delay=dt.timedelta(minutes=5)),
        RetryRule(exception=ConnectionError, retry_delay=90),  # seconds, as retry_delay=
        RetryRule(exception=PermissionError, action=RetryAction.FAIL),
        RetryRule(exception=KeyError, retry_delay=dt.timedelta(days=3)),
    ]
)


@pytest.mark.parametrize(
    ("exc", "try_number", "state", "delay"),
    [
        (TimeoutError(), 1, TI.UP_FOR_RETRY, 300.0),
        (ConnectionError(), 1, TI.UP_FOR_RETRY, 90.0),
        (KeyError("k"), 1, TI.UP_FOR_RETRY, 86400.0),  # capped at one day
        (ValueError(), 1, TI.UP_FOR_RETRY, None),  # no rule: the task's retry_delay rule
        (PermissionError(), 1, TI.FAILED, None),
        (TimeoutError(), 3, TI.FAILED, None),  # no retry left: no delay to carry
    ],
)
def test_a_rule_delay_goes_with_the_retry(
    exc: BaseException, try_number: int, state: TI, delay: float | None
) -> None:
    result = run_outcome(exc, retries=2, try_number=try_number, retry_policy=DELAYING)
    assert (result.state, result.retry_delay) == (state, delay)


def test_rule_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="dotted import path"):
        RetryRule(exception="ValueError")
    with pytest.raises(TypeError, match="timedelta"):
        RetryRule(exception=ValueError, retry_delay="5m")  # type: ignore[arg-type]
