"""Written for Airflow 3: callables run in a virtualenv and in another interpreter."""

import sys

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def virtualenv_tasks():
    @task.virtualenv(requirements=["six==1.16.0"], system_site_packages=False)
    def in_virtualenv(ds=None) -> str:
        import sys

        import six

        return f"six {six.__version__} isolated={sys.prefix != sys.base_prefix} {ds}"

    @task.external_python(python=sys.executable)
    def doubled(number: int) -> int:
        return number * 2

    in_virtualenv()
    doubled(21)


virtualenv_tasks()
