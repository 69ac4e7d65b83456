"""Retries with exponential backoff: the task fails twice, then succeeds on its third try."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import dag, task


@dag(
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["example", "retries"],
)
def example_retries():
    @task(
        retries=3,
        retry_delay=datetime.timedelta(seconds=1),
        retry_exponential_backoff=True,
        max_retry_delay=datetime.timedelta(seconds=10),
    )
    def flaky(**context) -> str:
        try_number = context["ti"].try_number
        if try_number < 3:
            raise RuntimeError(f"transient failure on try {try_number}")
        return f"succeeded on try {try_number}"

    flaky()


example_retries()
