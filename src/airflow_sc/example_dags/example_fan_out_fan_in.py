"""Fan-out / fan-in: eight parallel workers, one task that collects their results."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import dag, task


@dag(
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["example"],
)
def example_fan_out_fan_in():
    @task
    def start() -> int:
        return 10

    @task
    def square(offset: int, n: int) -> int:
        return (offset + n) ** 2

    @task
    def total(*parts: int) -> int:
        return sum(parts)

    base = start()
    total(*[square.override(task_id=f"square_{n}")(base, n) for n in range(8)])


example_fan_out_fan_in()
