"""An airflow-sc DAG for `dags test`: TaskFlow XComs, a variable, a connection, bash."""

import datetime as dt

from airflow_sc.sdk import BashOperator, Param, dag, task


@dag(
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1),
    params={"factor": Param(2, type="integer")},
)
def etl():
    @task
    def extract(params=None):
        return {"a": 1, "factor": params["factor"]}

    @task
    def transform(data: dict, var=None, conn=None):
        greeting = var["value"].get("greeting")
        return f"{data['a'] * data['factor']} via {greeting} @ {conn.warehouse.host}"

    stamp = BashOperator(task_id="stamp", bash_command="echo day={{ ds }}")
    transform(extract()) >> stamp


etl()
