"""What runs inside a worker: one try of one task, and ``dags test``'s in-process DAG run.

A task reaches XCom, variables and connections only through a `TaskClient`.
"""

from airflow_sc.task_runner.client import TaskClient
from airflow_sc.task_runner.dag_files import DagFiles, load_dag_files
from airflow_sc.task_runner.dag_test import (
    DagTestResult,
    TaskResult,
    manual_run_info,
    run_dag_test,
)
from airflow_sc.task_runner.execute import AirflowTaskTimeout, arun_task, run_task
from airflow_sc.task_runner.memory_client import InMemoryTaskClient
from airflow_sc.task_runner.outcome import DagRunTriggerRequest, Deferral, TaskOutcome
from airflow_sc.task_runner.task_instance import RuntimeTaskInstance

__all__ = [
    "AirflowTaskTimeout",
    "DagFiles",
    "DagRunTriggerRequest",
    "DagTestResult",
    "Deferral",
    "InMemoryTaskClient",
    "RuntimeTaskInstance",
    "TaskClient",
    "TaskOutcome",
    "TaskResult",
    "arun_task",
    "load_dag_files",
    "manual_run_info",
    "run_dag_test",
    "run_task",
]
