"""A BashOperator pipeline with Jinja templates, environment variables and XCom output."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import DAG, BashOperator

with DAG(
    "example_bash_templates",
    schedule=None,
    start_date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    catchup=False,
    is_paused_upon_creation=False,
    params={"greeting": "hello"},
    tags=["example", "bash"],
):
    prepare = BashOperator(
        task_id="prepare",
        bash_command='echo "run {{ run_id }} for {{ ds }} ({{ params.greeting }})"',
    )
    count = BashOperator(
        task_id="count_files",
        bash_command='ls -1 "$TARGET" | wc -l',
        env={"TARGET": "/"},
        append_env=True,
    )
    report = BashOperator(
        task_id="report",
        bash_command=(
            "echo \"{{ ti.xcom_pull(task_ids='count_files') }} entries; "
            'yesterday was {{ macros.ds_add(ds, -1) }}"'
        ),
    )
    prepare >> count >> report
