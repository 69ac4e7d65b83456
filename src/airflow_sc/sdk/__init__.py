"""Authoring API for DAG files: DAGs, tasks, operators, schedules, params and templates.

Airflow 3 DAG files work after changing their imports to ``from airflow_sc.sdk import ...``.
"""

from airflow_sc.domain.task_rules import TriggerRule, WeightRule

from .baseoperator import BaseOperator
from .bases.hook import BaseHook
from .connection import Connection
from .context import Context
from .dag import DAG, dag
from .dependencies import DependencyMixin, chain, chain_linear, cross_downstream
from .edges import EdgeModifier, Label
from .exceptions import (
    AirflowDagCycleException,
    AirflowException,
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
    DagDefinitionError,
    DagRunTriggerException,
    DuplicateTaskIdFound,
    TaskDeferred,
)
from .operators.bash import BashOperator
from .operators.empty import EmptyOperator
from .operators.latest_only import LatestOnlyOperator
from .operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from .operators.trigger_dagrun import TriggerDagRunOperator
from .params import Param, ParamsDict, ParamValidationError
from .taskflow import task
from .taskgroup import TaskGroup, task_group
from .timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    Timetable,
)
from .variable import Variable
from .xcom_arg import XComArg

__all__ = [
    "DAG",
    "AirflowDagCycleException",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "Connection",
    "Context",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagDefinitionError",
    "DagRunTriggerException",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "DependencyMixin",
    "DuplicateTaskIdFound",
    "EdgeModifier",
    "EmptyOperator",
    "Label",
    "LatestOnlyOperator",
    "Param",
    "ParamValidationError",
    "ParamsDict",
    "PythonOperator",
    "ShortCircuitOperator",
    "TaskDeferred",
    "TaskGroup",
    "Timetable",
    "TriggerDagRunOperator",
    "TriggerRule",
    "Variable",
    "WeightRule",
    "XComArg",
    "chain",
    "chain_linear",
    "cross_downstream",
    "dag",
    "task",
    "task_group",
]
