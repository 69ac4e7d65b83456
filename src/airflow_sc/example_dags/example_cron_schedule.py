"""A scheduled DAG: runs at 06:30 every weekday in Amsterdam time (DST handled)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from airflow_sc.sdk import DAG, PythonOperator


def summarize(ds: str, data_interval_end: datetime.datetime) -> str:
    return f"report for {ds}, scheduled at {data_interval_end.isoformat()}"


with DAG(
    "example_cron_schedule",
    schedule="30 6 * * 1-5",
    start_date=datetime.datetime(2025, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),
    catchup=False,
    is_paused_upon_creation=False,
    dagrun_timeout=datetime.timedelta(hours=1),
    tags=["example", "schedule"],
):
    PythonOperator(task_id="summarize", python_callable=summarize)
