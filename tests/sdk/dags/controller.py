"""Controller DAG: classic PythonOperator, async tasks, chain_linear, cross_downstream, trigger."""

from __future__ import annotations

import asyncio
import datetime

from airflow_sc.sdk import (
    DAG,
    EmptyOperator,
    PythonOperator,
    TriggerDagRunOperator,
    chain_linear,
    cross_downstream,
    task,
)


def compute(multiplier, ds=None, **_):
    return {"ds": ds, "value": 21 * multiplier}


with DAG(
    dag_id="controller",
    schedule="@hourly",
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    max_active_tasks=4,
    on_failure_callback=lambda context: None,
    is_paused_upon_creation=False,
) as dag:
    compute_task = PythonOperator(
        task_id="compute", python_callable=compute, op_kwargs={"multiplier": 2}
    )

    @task
    async def fetch(source: str) -> str:
        await asyncio.sleep(0)
        return source.upper()

    fetches = [fetch.override(task_id=f"fetch_{name}")(name) for name in ("a", "b")]
    checks = [EmptyOperator(task_id=f"check_{i}") for i in range(2)]
    cross_downstream(fetches, checks)

    trigger = TriggerDagRunOperator(
        task_id="trigger_downstream",
        trigger_dag_id="taskflow_etl",
        conf={"value": "{{ ti.xcom_pull(task_ids='compute')['value'] }}"},
        wait_for_completion=True,
        poke_interval=10,
    )
    chain_linear(compute_task, checks, trigger)
