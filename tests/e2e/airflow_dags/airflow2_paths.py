"""Written for Airflow 2 and still valid in Airflow 3: the old import paths."""

from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.operators.weekday import BranchDayOfWeekOperator
from airflow.utils.trigger_rule import TriggerRule
from airflow.utils.weekday import WeekDay


def report(**context):
    return context["ti"].xcom_pull(task_ids="is_friday")


with DAG(
    dag_id="airflow2_paths",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"owner": "data", "retries": 0},
) as dag:
    is_friday = BranchDayOfWeekOperator(
        task_id="is_friday",
        follow_task_ids_if_true="friday",
        follow_task_ids_if_false="other_day",
        week_day=WeekDay.FRIDAY,
        use_task_logical_date=True,
    )
    friday = EmptyOperator(task_id="friday")
    other_day = EmptyOperator(task_id="other_day")
    join = PythonOperator(
        task_id="join",
        python_callable=report,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )
    greet = BashOperator(
        task_id="greet",
        bash_command="echo $GREETING from $(pwd)",
        env={"GREETING": "hello"},
        append_env=True,
        cwd="/tmp",
        output_processor=lambda line: line.upper(),
    )

    is_friday >> [friday, other_day] >> join >> greet
