"""DAGs the end-to-end tests trigger through the REST API of a real `airflow-sc run`.

One DAG per behaviour, all in one file, so one process start covers them all.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import time

import anyio

from airflow_sc.sdk import DAG, task

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
#: The `async def` task's naps: this many, each this long, all at once.
NAPS = 1000
NAP_SECONDS = 1.0


def fail_before_try(context, last: int) -> int:
    try_number = context["ti"].try_number
    if try_number < last:
        raise RuntimeError(f"failing on purpose on try {try_number}")
    return try_number


with DAG("e2e_retries", schedule=None, start_date=START):

    @task(retries=2, retry_delay=datetime.timedelta(seconds=0.2))
    def fixed_delay(**context) -> int:
        return fail_before_try(context, 3)

    @task(
        retries=2,
        retry_delay=datetime.timedelta(seconds=0.6),
        retry_exponential_backoff=True,
    )
    def backoff(**context) -> int:
        return fail_before_try(context, 3)

    fixed_delay()
    backoff()

with DAG("e2e_timeout", schedule=None, start_date=START):

    @task(execution_timeout=datetime.timedelta(seconds=0.5))
    def sleeper() -> None:
        time.sleep(600)

    sleeper()

with DAG("e2e_crashes", schedule=None, start_date=START):

    @task
    def segfault() -> None:
        ctypes.string_at(0)

    @task
    def exit_3() -> None:
        print("about to exit", flush=True)
        os._exit(3)

    segfault()
    exit_3()

with DAG("e2e_xcom", schedule=None, start_date=START):

    @task
    def produce() -> dict[str, int]:
        return {"answer": 41}

    @task
    def consume(value: dict[str, int]) -> int:
        return value["answer"] + 1

    consume(produce())

with DAG("e2e_branch", schedule=None, start_date=START):

    @task.branch
    def choose() -> str:
        return "left"

    @task
    def left() -> str:
        return "went left"

    @task
    def right() -> str:
        return "went right"

    @task
    def after_right() -> None:
        pass

    right_side = right()
    choose() >> [left(), right_side]
    right_side >> after_right()

with DAG("e2e_pool", schedule=None, start_date=START):
    for i in range(5):

        @task(task_id=f"hold_{i}", pool="e2e_two_slots")
        def hold() -> None:
            time.sleep(0.4)

        hold()

with DAG("e2e_async", schedule=None, start_date=START):

    @task
    async def naps() -> int:
        done = 0

        async def nap() -> None:
            nonlocal done
            await anyio.sleep(NAP_SECONDS)
            done += 1

        async with anyio.create_task_group() as tg:
            for _ in range(NAPS):
                tg.start_soon(nap)
        return done

    naps()
