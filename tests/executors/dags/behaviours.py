"""Tasks that behave well and badly, for the executor tests (an airflow-sc DAG file)."""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import subprocess
import sys
import time

import anyio

from airflow_sc.sdk import (
    DAG,
    BaseOperator,
    BashOperator,
    ExceptionRetryPolicy,
    RetryRule,
    task,
)


class KillAware(BaseOperator):
    """Runs until stopped; its on_kill leaves a mark next to the marker file."""

    def execute(self, context):
        _mark(context, "running")
        time.sleep(600)

    def on_kill(self) -> None:
        with open(f"{_marker_of(self)}.killed", "w") as out:
            out.write(f"on_kill of {self.task_id}")


with DAG(
    "behaviours",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
) as dag:

    @task
    def succeed() -> dict[str, int]:
        print("hello from the task")
        return {"answer": 42}

    @task
    def pull(**context) -> int:
        value = context["ti"].xcom_pull(task_ids="succeed")
        print(f"pulled {value}")
        return int(value["answer"]) + 1

    @task
    def boom() -> None:
        raise ValueError("the task broke on purpose")

    @task(
        retries=2,
        retry_policy=ExceptionRetryPolicy(
            rules=[RetryRule(exception=TimeoutError, retry_delay=datetime.timedelta(minutes=7))]
        ),
    )
    def time_out() -> None:
        raise TimeoutError("the service did not answer")

    @task
    def exit_3() -> None:
        print("about to exit", flush=True)
        os._exit(3)

    @task
    def segfault() -> None:
        ctypes.string_at(0)

    @task
    def hang() -> None:
        time.sleep(600)

    @task
    def ignore_sigterm(**context) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _mark(context, "ignoring")
        time.sleep(600)

    @task
    def slow(**context) -> str:
        _mark(context, "started")
        time.sleep(float(context["params"].get("seconds", 1)))
        return "done"

    @task
    def fork_grandchild(**context) -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        _mark(context, str(child.pid))
        time.sleep(600)

    @task
    def read_secret(**context) -> str:
        conn = context["conn"].get("warehouse")
        print(f"the password is {conn.password}")
        return str(conn.host)

    @task.branch
    def branch() -> list[str]:
        return ["succeed"]

    @task
    async def nap() -> str:
        await anyio.sleep(0.5)
        return "rested"

    @task
    async def block() -> str:
        time.sleep(0.3)  # noqa: ASYNC251 - the blocking call this task exists for
        return "blocked"

    @task
    async def async_hang() -> None:
        await anyio.sleep(600)

    @task(execution_timeout=datetime.timedelta(seconds=0.3), retries=1)
    async def async_timeout() -> None:
        await anyio.sleep(600)

    KillAware(task_id="kill_aware")
    BashOperator(
        task_id="bash_group",
        bash_command="sleep 600 & echo $! > {{ params.marker }}; wait",
    )

    succeed() >> pull()
    branch() >> [exit_3(), boom()]
    segfault()
    time_out()
    hang()
    ignore_sigterm()
    slow()
    fork_grandchild()
    read_secret()
    nap()
    block()
    async_hang()
    async_timeout()


def _mark(context, text: str) -> None:
    path = context["params"].get("marker")
    if path:
        _MARKERS[context["task"].task_id] = path
        with open(path, "w") as out:
            out.write(text)


#: The marker path of the try being run (on_kill has no context argument).
_MARKERS: dict[str, str] = {}


def _marker_of(task) -> str:
    return _MARKERS[task.task_id]
