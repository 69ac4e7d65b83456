"""Written for Airflow 3: an operator that cleans up in on_kill when its task is stopped.

The task waits for a job that never ends; when the deployment shuts down with the task
still running, its on_kill cancels "the job" and leaves a mark in the file that
$ON_KILL_MARKS names.
"""

import os
import time

import pendulum
from airflow.sdk import DAG, BaseOperator


class WaitForJobOperator(BaseOperator):
    def execute(self, context):
        self.log.info("waiting for the job of run %s", context["run_id"])
        while True:
            time.sleep(1)

    def on_kill(self):
        with open(os.environ["ON_KILL_MARKS"], "a") as marks:
            marks.write(f"on_kill {self.dag_id}.{self.task_id}\n")


with DAG(
    dag_id="stopped_at_shutdown",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    WaitForJobOperator(task_id="wait_for_job")
