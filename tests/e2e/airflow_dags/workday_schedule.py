"""Written for Airflow 3: a DAG scheduled by a timetable from the plugins folder."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from workday_plugin import WorkdayTimetable

with DAG(
    dag_id="workday_schedule",
    schedule=WorkdayTimetable(),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    BashOperator(
        task_id="which_day",
        bash_command="echo {{ data_interval_start.format('dddd') }}",
    )
