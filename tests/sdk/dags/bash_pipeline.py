"""Classic operators: BashOperator, TaskGroups, branching, labels and chain()."""

from __future__ import annotations

import datetime

from airflow_sc.sdk import (
    DAG,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    Label,
    TaskGroup,
    TriggerRule,
    chain,
)

default_args = {
    "owner": "ops",
    "retries": 1,
    "retry_delay": datetime.timedelta(minutes=1),
    "execution_timeout": datetime.timedelta(minutes=10),
}


def choose_path(**context):
    return "full_refresh" if context["logical_date"].day == 1 else "incremental"


with DAG(
    dag_id="bash_pipeline",
    schedule="0 3 * * *",
    start_date=datetime.datetime(2024, 1, 1),
    default_args=default_args,
    max_active_runs=1,
    dagrun_timeout=datetime.timedelta(hours=2),
    tags=["bash"],
    doc_md=__doc__,
):
    start = EmptyOperator(task_id="start")

    with TaskGroup("prepare", tooltip="Prepare the workspace") as prepare:
        mkdir = BashOperator(task_id="mkdir", bash_command="mkdir -p /tmp/bash_pipeline")
        clean = BashOperator(task_id="clean", bash_command="rm -f /tmp/bash_pipeline/*.tmp")
        mkdir >> clean

    branch = BranchPythonOperator(task_id="branch", python_callable=choose_path)
    full = BashOperator(task_id="full_refresh", bash_command="echo full {{ ds }}")
    incremental = BashOperator(
        task_id="incremental", bash_command="echo incremental {{ ds }}", pool_slots=2
    )
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    publish = BashOperator(
        task_id="publish",
        bash_command="echo publishing",
        env={"TARGET": "prod"},
        append_env=True,
        priority_weight=10,
        weight_rule="absolute",
    )

    chain(start, prepare, branch)
    branch >> Label("first of month") >> full >> join
    branch >> Label("other days") >> incremental >> join
    join >> publish
