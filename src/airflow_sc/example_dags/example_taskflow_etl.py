"""TaskFlow ETL: extract -> transform -> load, values passed between tasks as XCom."""

from __future__ import annotations

import datetime
import json

from airflow_sc.sdk import dag, task


@dag(
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["example", "taskflow"],
    default_args={"owner": "airflow-sc"},
)
def example_taskflow_etl():
    """
    ### TaskFlow ETL
    `extract` returns the orders, `transform` sums them (two outputs), `load` prints them.
    """

    @task
    def extract() -> dict[str, float]:
        orders: dict[str, float] = json.loads('{"1001": 301.27, "1002": 433.21, "1003": 502.22}')
        return orders

    @task(multiple_outputs=True)
    def transform(orders: dict[str, float]) -> dict[str, float]:
        return {"total": round(sum(orders.values()), 2), "count": len(orders)}

    @task
    def load(total: float, count: int) -> str:
        message = f"{count} orders worth {total:.2f}"
        print(message)
        return message

    summary = transform(extract())
    load(summary["total"], summary["count"])


example_taskflow_etl()
