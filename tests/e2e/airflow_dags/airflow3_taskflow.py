"""Written for Airflow 3: TaskFlow, pendulum dates, the standard provider, templates."""

from __future__ import annotations

import pendulum
from airflow.exceptions import AirflowSkipException
from airflow.providers.common.compat.sdk import TriggerRule
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, get_current_context, task


@dag(
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["compat"],
)
def airflow3_taskflow():
    @task
    def extract() -> dict[str, int]:
        return {"orders": 3, "refunds": 1}

    @task
    def month_start(**context) -> str:
        # Airflow hands pendulum DateTimes: their methods work on context dates.
        return context["data_interval_start"].start_of("month").to_date_string()

    @task
    def pull_many(ti=None) -> list:
        return ti.xcom_pull(task_ids=["extract", "month_start"])

    @task
    def where_am_i() -> str:
        context = get_current_context()
        return f"{context['ti'].task_id} try {context['ti'].try_number}"

    @task
    async def where_am_i_async() -> str:
        return get_current_context()["ti"].task_id

    @task
    def nothing_to_do():
        raise AirflowSkipException("no new files")

    BashOperator(
        task_id="templated",
        bash_command=(
            'echo "{{ logical_date.add(days=1).format("YYYY-MM-DD") }} '
            "{{ macros.ds_add(ds, 7) }} "
            '{{ macros.workday_plugin.workdays_between(ds, macros.ds_add(ds, 7)) }}"'
        ),
    )
    after_skip = EmptyOperator(task_id="after_skip", trigger_rule=TriggerRule.NONE_FAILED)

    [extract(), month_start()] >> pull_many()
    where_am_i()
    where_am_i_async()
    nothing_to_do() >> after_skip


airflow3_taskflow()
