"""TaskFlow branching: @task.branch, @task.short_circuit, @task.bash and LatestOnly."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import DAG, EmptyOperator, LatestOnlyOperator, task

with DAG(
    "branching_taskflow",
    schedule=datetime.timedelta(hours=6),
    start_date=datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC),
    catchup=False,
) as dag:
    latest = LatestOnlyOperator(task_id="latest_only")

    @task.branch
    def pick(**context) -> list[str]:
        return ["small"] if context["params"].get("size", 0) < 10 else ["big", "audit"]

    @task.bash
    def small() -> str:
        return "echo small batch"

    @task.bash(env={"MODE": "big"})
    def big() -> str:
        return 'echo "big batch in $MODE mode"'

    @task
    def audit() -> None:
        print("auditing")

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_rows(count: int = 1) -> bool:
        return count > 0

    done = EmptyOperator(task_id="done", trigger_rule="none_failed_min_one_success")
    notify = EmptyOperator(task_id="notify", trigger_rule="all_done")

    latest >> pick() >> [small(), big(), audit()] >> done
    done >> has_rows() >> notify
