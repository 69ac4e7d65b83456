"""A TaskFlow ETL pipeline in Airflow 3 style (only the import line changed)."""

from __future__ import annotations

import datetime
import json

from airflow_sc.sdk import Param, dag, task, task_group


@dag(
    schedule="@daily",
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    tags=["example", "etl"],
    params={"min_value": Param(0, type="integer", minimum=0)},
    default_args={"owner": "data-eng", "retries": 2},
)
def taskflow_etl():
    """
    ### ETL
    Extract orders, transform them, load the summary.
    """

    @task
    def extract() -> dict[str, float]:
        data = '{"1001": 301.27, "1002": 433.21, "1003": 502.22}'
        return json.loads(data)

    @task(multiple_outputs=True)
    def transform(order_data: dict[str, float]) -> dict[str, float]:
        return {"total_order_value": sum(order_data.values()), "count": len(order_data)}

    @task_group
    def load_all(total, count):
        @task
        def load_total(value: float) -> None:
            print(f"Total order value is: {value:.2f}")

        @task(retries=0)
        def load_count(value: int) -> None:
            print(f"Order count: {value}")

        load_total(total)
        load_count(count)

    summary = transform(extract())
    load_all(summary["total_order_value"], summary["count"])


taskflow_etl()
