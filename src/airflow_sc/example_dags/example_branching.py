"""Branching: one path runs, the other is skipped, and the join still runs."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import DAG, EmptyOperator, task

with DAG(
    "example_branching",
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    params={"weekday_only": True},
    tags=["example", "branching"],
):

    @task.branch
    def choose(**context) -> str:
        logical = context.get("logical_date") or datetime.datetime.now(datetime.UTC)
        return "weekday" if logical.weekday() < 5 else "weekend"

    weekday = EmptyOperator(task_id="weekday")
    weekend = EmptyOperator(task_id="weekend")

    @task(trigger_rule="none_failed_min_one_success")
    def join() -> str:
        return "joined"

    choose() >> [weekday, weekend] >> join()
