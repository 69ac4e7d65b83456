"""What runs inside a worker: one try of one task (``dags test``'s in-process DAG run is
`airflow_sc.scheduler.dag_test`).

A task reaches XCom, variables and connections only through a `TaskClient`.
"""

from airflow_sc.sdk._task_client import TaskClient
from airflow_sc.task_runner.dag_files import DagFiles, load_dag_files
from airflow_sc.task_runner.execute import AirflowTaskTimeout, arun_task, run_task
from airflow_sc.task_runner.memory_client import InMemoryTaskClient
from airflow_sc.task_runner.outcome import Deferral, TaskOutcome
from airflow_sc.task_runner.task_instance import RuntimeTaskInstance

__all__ = [
    "AirflowTaskTimeout",
    "DagFiles",
    "Deferral",
    "InMemoryTaskClient",
    "RuntimeTaskInstance",
    "TaskClient",
    "TaskOutcome",
    "arun_task",
    "load_dag_files",
    "run_task",
]
