"""A DAG whose tries span a database outage, for the outage test.

Every try first leaves a marker file ``<task_id>.<try_number>.<pid>`` in the folder named by
the run's ``markers`` param (its side effect, so a test can count executions against tries).
``finishes_in_outage`` ends a few seconds after it started: its end is recorded while the
database is down. ``holds`` and ``awaits`` keep running until the test creates the file
named by ``release``, after the database is back. ``after`` runs once they succeeded.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import anyio

from airflow_sc.sdk import DAG, task

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
#: Retries available: a try the outage wrongly failed would show as a second try.
RETRY = {"retries": 2, "retry_delay": datetime.timedelta(seconds=0.2)}
#: How long a held try waits for the release file at most.
HOLD_LIMIT = 120.0


def mark(context, task_id: str) -> None:
    folder = Path(context["params"]["markers"])
    (folder / f"{task_id}.{int(context['ti'].try_number)}.{os.getpid()}").touch()


def released(context) -> bool:
    return Path(context["params"]["release"]).exists()


with DAG("e2e_outage", schedule=None, start_date=START, params={"markers": "", "release": ""}):

    @task(**RETRY)
    def finishes_in_outage(**context) -> None:
        mark(context, "finishes_in_outage")
        time.sleep(3)

    @task(**RETRY)
    def holds(**context) -> None:
        mark(context, "holds")
        deadline = time.monotonic() + HOLD_LIMIT
        while not released(context) and time.monotonic() < deadline:
            time.sleep(0.1)

    @task(**RETRY)
    async def awaits(**context) -> None:
        mark(context, "awaits")
        deadline = time.monotonic() + HOLD_LIMIT
        while not released(context) and time.monotonic() < deadline:
            await anyio.sleep(0.1)

    @task(**RETRY)
    def after(**context) -> None:
        mark(context, "after")

    [finishes_in_outage(), holds(), awaits()] >> after()
