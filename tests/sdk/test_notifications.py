"""Notifiers, EmailOperator and email_on_failure, against a real local SMTP server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.scheduler.dag_test import manual_run_info, run_dag_test
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.sdk._task_client import task_client_active
from airflow_sc.sdk.notifications.smtp import SmtpNotifier
from airflow_sc.sdk.notifier import BaseNotifier
from airflow_sc.sdk.operators.email import EmailOperator
from airflow_sc.task_runner import InMemoryTaskClient
from tests.smtp_server import Mailbox, smtp_server

TI = TaskInstanceState
NOW = dt.datetime(2026, 3, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def run(dag: DAG, mailbox: Mailbox) -> dict[str, TaskInstanceState | None]:
    info = manual_run_info(dag, logical_date=NOW, now=NOW)
    result = run_dag_test(
        dag,
        info,
        connections={"smtp_default": mailbox.connection_uri() + "&from_email=af@example.com"},
        out=lambda line: None,
    )
    return {task_id: r.state for task_id, r in result.tasks.items()}


def fail() -> None:
    raise ValueError("disk full")


def test_smtp_notifier_mails_a_rendered_alert_when_a_task_fails(mailbox: Mailbox) -> None:
    with DAG("alerts", schedule=None, start_date=NOW) as dag:
        PythonOperator(
            task_id="load",
            python_callable=fail,
            on_failure_callback=SmtpNotifier(
                to="oncall@example.com; lead@example.com",
                subject="{{ ti.task_id }} in {{ dag.dag_id }}: {{ state }}",
            ),
        )
    assert run(dag, mailbox) == {"load": TI.FAILED}
    [(sender, recipients, message)] = mailbox.wait_for(1)
    assert sender == "af@example.com"
    assert recipients == ["oncall@example.com", "lead@example.com"]
    assert message["Subject"] == "load in alerts: failed"
    body = message.get_content()
    assert "disk full" in body
    assert "/api/v2/dags/alerts/dagRuns/" in body


def test_email_on_failure_mails_the_task_email_list(mailbox: Mailbox) -> None:
    with DAG(
        "alerts2", schedule=None, start_date=NOW, default_args={"email": "a@example.com"}
    ) as d:
        PythonOperator(task_id="quiet", python_callable=fail, email_on_failure=False)
        PythonOperator(task_id="loud", python_callable=fail)
    assert run(d, mailbox) == {"quiet": TI.FAILED, "loud": TI.FAILED}
    [(_, recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["a@example.com"]
    assert message["Subject"] == (
        f"Airflow alert: <TaskInstance: alerts2.loud manual__{NOW.isoformat()} [failed]>"
    )


def test_email_operator_sends_a_templated_mail_with_cc(mailbox: Mailbox) -> None:
    with DAG("mailer", schedule=None, start_date=NOW) as dag:
        EmailOperator(
            task_id="send",
            to=["x@example.com"],
            cc="y@example.com",
            subject="Report for {{ ds }}",
            html_content="<b>{{ logical_date.format('dddd') }}</b>",
        )
    assert run(dag, mailbox) == {"send": TI.SUCCESS}
    [(_, recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["x@example.com", "y@example.com"]
    assert message["Subject"] == "Report for 2026-03-06"
    assert message.get_content().strip() == "<b>Friday</b>"


def test_a_mail_server_that_is_down_never_changes_the_outcome() -> None:
    with smtp_server() as box:
        uri = box.connection_uri()
    seen: list[str] = []

    class Recorder(BaseNotifier):
        def notify(self, context: Any) -> None:
            seen.append(context["ti"].task_id)

    with DAG("down", schedule=None, start_date=NOW) as dag:
        PythonOperator(
            task_id="ok",
            python_callable=lambda: 1,
            on_success_callback=[SmtpNotifier(to="z@example.com"), Recorder()],
        )
    info = manual_run_info(dag, logical_date=NOW, now=NOW)
    conn = uri + "&from_email=af@example.com&retry_limit=1&timeout=2"
    result = run_dag_test(dag, info, connections={"smtp_default": conn}, out=lambda _: None)
    assert result.tasks["ok"].state is TI.SUCCESS
    assert seen == ["ok"]


def test_notifier_template_fields_render_per_call_without_changing_the_notifier() -> None:
    calls: list[str] = []

    class Chat(BaseNotifier):
        template_fields = ("message",)

        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

        def notify(self, context: Any) -> None:
            calls.append(self.message)

    notifier = Chat("{{ ti.task_id }} {{ ds }}")
    with DAG("chat", schedule=None, start_date=NOW) as dag:
        PythonOperator(task_id="a", python_callable=lambda: 1, on_success_callback=notifier)
        PythonOperator(task_id="b", python_callable=lambda: 1, on_success_callback=notifier)
    info = manual_run_info(dag, logical_date=NOW, now=NOW)
    run_dag_test(dag, info, out=lambda _: None)
    assert sorted(calls) == ["a 2026-03-06", "b 2026-03-06"]
    assert notifier.message == "{{ ti.task_id }} {{ ds }}"


def test_email_on_retry_mails_when_a_try_will_be_retried(mailbox: Mailbox) -> None:
    with DAG("retrying", schedule=None, start_date=NOW) as dag:
        PythonOperator(
            task_id="flaky",
            python_callable=fail,
            retries=1,
            retry_delay=dt.timedelta(0),
            email="ops@example.com",
            email_on_failure=False,
        )
    assert run(dag, mailbox) == {"flaky": TI.FAILED}
    [(_, recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["ops@example.com"]
    assert message["Subject"].endswith("[up_for_retry]>")


def test_a_notifier_is_accepted_as_a_dag_callback(mailbox: Mailbox) -> None:
    from airflow_sc.dag_processing.callbacks_child import build_callback_context

    notifier = SmtpNotifier(to="dags@example.com", smtp_conn_id="smtp_dags")
    the_dag = DAG("nightly", schedule=None, start_date=NOW, on_failure_callback=notifier)
    request = {
        "dag_id": "nightly",
        "run_id": "scheduled__2026-03-06",
        "reason": "task_failure",
        "run": {"state": "failed", "logical_date": NOW.isoformat(), "conf": {}},
    }
    context = build_callback_context(the_dag, request)
    assert context["logical_date"].to_date_string() == "2026-03-06"
    uri = mailbox.connection_uri() + "&from_email=af@example.com"
    with task_client_active(InMemoryTaskClient("nightly", "r", connections={"smtp_dags": uri})):
        for callback in the_dag.on_failure_callback:
            callback(context)
    [(_, recipients, message)] = mailbox.wait_for(1)
    assert recipients == ["dags@example.com"]
    assert message["Subject"] == "DAG nightly - Run ID scheduled__2026-03-06 in State failed"
