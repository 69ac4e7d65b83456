"""A controller DAG starting a target DAG with TriggerDagRunOperator and waiting for it, in
Airflow 3's style (the standard provider's import path)."""

from datetime import datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def trigger_target():
    @task
    def load(dag_run=None):
        return f"loading {dag_run.conf['table']} for {dag_run.run_id}"

    load()


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def trigger_controller():
    kick = TriggerDagRunOperator(
        task_id="kick",
        trigger_dag_id="trigger_target",
        trigger_run_id="from-{{ run_id }}",
        conf={"table": "orders_{{ ds_nodash }}"},
        wait_for_completion=True,
        poke_interval=0.5,
    )
    # The same run again: it exists, so this task is skipped.
    again = TriggerDagRunOperator(
        task_id="again",
        trigger_dag_id="trigger_target",
        trigger_run_id="from-{{ run_id }}",
        skip_when_already_exists=True,
    )
    kick >> again


trigger_target()
trigger_controller()
