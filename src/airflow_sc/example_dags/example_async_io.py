"""An `async def` task doing concurrent I/O: 100 waits that take about one wait's time."""

from __future__ import annotations

import datetime

import anyio

from airflow_sc.sdk import dag, task


@dag(
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["example", "async"],
)
def example_async_io():
    @task
    async def fetch_all(count: int = 100) -> float:
        """Stands in for 100 HTTP calls: they overlap instead of running one by one."""
        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(anyio.sleep, 0.2)
        elapsed = anyio.current_time() - started
        print(f"{count} concurrent waits took {elapsed:.2f}s")
        return elapsed

    fetch_all()


example_async_io()
