"""A DAG whose first tries run until stopped, for the shutdown and crash tests.

Every try appends ``<task_id> <try_number>`` to the ledger file named by the run's conf
(its side effect), then, on the first try only, works for ten minutes; later tries finish
at once. So a test can stop the process mid-run, restart it and count the side effects.
"""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import time

import anyio

from airflow_sc.sdk import DAG, task

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
RETRY = {"retries": 1, "retry_delay": datetime.timedelta(seconds=0.2)}


def append(context, task_id: str) -> int:
    try_number = int(context["ti"].try_number)
    with open(context["params"]["ledger"], "a") as ledger:
        ledger.write(f"{task_id} {try_number}\n")
    return try_number


with DAG("e2e_long", schedule=None, start_date=START, params={"ledger": ""}):

    @task(**RETRY)
    def works(**context) -> None:
        if append(context, "works") == 1:
            time.sleep(600)

    @task(**RETRY)
    def stubborn(**context) -> None:
        """Ignores SIGTERM and leaves a grandchild process behind, on its first try."""
        if append(context, "stubborn") == 1:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            time.sleep(600)

    @task(**RETRY)
    async def awaits(**context) -> None:
        if append(context, "awaits") == 1:
            await anyio.sleep(600)

    works()
    stubborn()
    awaits()

with DAG("e2e_last_chance", schedule=None, start_date=START, params={"ledger": ""}):

    @task(retries=0)
    def last_chance(**context) -> None:
        if append(context, "last_chance") == 1:
            time.sleep(600)

    last_chance()
