"""Operator actions the REST API and the CLI call: trigger, clear, mark, pause, notes.

Each action writes in one transaction (lock order dag -> dag_run -> task_instance) and then
calls the `wake` callable it was given with the ids of the dag runs it changed, so a
scheduler in the same process reacts at once (`SchedulerHandle.wake`); across processes
the wake-up travels by the database's notifications.
"""

from airflow_sc.actions.clear import ClearedTaskInstance, clear_task_instances
from airflow_sc.actions.errors import (
    ActionError,
    DagIsPaused,
    DagNotFound,
    DagRunExists,
    DagRunNotFound,
    InvalidConf,
    InvalidRunId,
)
from airflow_sc.actions.mark import (
    MarkedTaskInstance,
    MarkRunState,
    MarkState,
    mark_dag_run,
    mark_task_instances,
)
from airflow_sc.actions.notes import set_dag_run_note, set_task_instance_notes
from airflow_sc.actions.operator_triggers import OperatorTriggers
from airflow_sc.actions.pause import set_dag_paused, set_dags_paused
from airflow_sc.actions.trigger import TriggeredRun, trigger_dag_run
from airflow_sc.actions.wake import Wake, no_wake

__all__ = [
    "ActionError",
    "ClearedTaskInstance",
    "DagIsPaused",
    "DagNotFound",
    "DagRunExists",
    "DagRunNotFound",
    "InvalidConf",
    "InvalidRunId",
    "MarkRunState",
    "MarkState",
    "MarkedTaskInstance",
    "OperatorTriggers",
    "TriggeredRun",
    "Wake",
    "clear_task_instances",
    "mark_dag_run",
    "mark_task_instances",
    "no_wake",
    "set_dag_paused",
    "set_dag_run_note",
    "set_dags_paused",
    "set_task_instance_notes",
    "trigger_dag_run",
]
