"""An airflow DAG whose second task always fails (retried once)."""

import datetime as dt

from airflow_sc.sdk import DAG, task

with DAG("failing", schedule=None, start_date=dt.datetime(2024, 1, 1)):

    @task
    def first():
        return 1

    @task(retries=1, retry_delay=dt.timedelta(seconds=30))
    def boom(value):
        raise ValueError(f"boom {value}")

    boom(first())
