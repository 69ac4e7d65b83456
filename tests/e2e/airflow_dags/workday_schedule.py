"""Written for Airflow 3: a DAG scheduled by a timetable from the plugins folder, whose
tasks are weighed by a priority weight strategy from the same plugin."""

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from workday_plugin import ScaledPriority, WorkdayTimetable

with DAG(
    dag_id="workday_schedule",
    schedule=WorkdayTimetable(),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    day = BashOperator(
        task_id="which_day",
        bash_command="echo {{ data_interval_start.format('dddd') }}",
        priority_weight=3,
        weight_rule=ScaledPriority(base=100),
    )
    done = BashOperator(
        task_id="done",
        bash_command="true",
        weight_rule="workday_plugin.ScaledPriority",  # by import path: base 0
    )
    day >> done
