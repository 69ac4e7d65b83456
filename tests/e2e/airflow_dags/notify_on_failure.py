"""Written for Airflow 3: a failing task mails through a notifier and email_on_failure."""

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def load_warehouse():
    raise ValueError("the warehouse is closed")


with DAG(
    dag_id="notify_on_failure",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0},
):
    PythonOperator(
        task_id="load",
        python_callable=load_warehouse,
        on_failure_callback=SmtpNotifier(
            to="oncall@example.com",
            from_email="airflow@example.com",
            smtp_conn_id="smtp_alerts",
            subject="{{ ti.task_id }} of {{ dag.dag_id }} failed",
        ),
        email=["team@example.com"],
        email_on_failure=True,
    )
