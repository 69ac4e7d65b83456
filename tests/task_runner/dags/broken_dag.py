"""An airflow DAG file that fails to import."""

import not_a_module_that_exists  # noqa: F401

from airflow_sc.sdk import DAG

DAG("broken", schedule=None)
