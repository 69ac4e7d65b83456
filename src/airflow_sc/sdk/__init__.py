"""Authoring API for DAG files: DAGs, tasks, operators, schedules, params and templates.

Airflow 3 DAG files run unchanged (``import airflow...`` is served by `airflow_sc.compat`);
this package holds the same names for files that import airflow-sc directly.
"""

from airflow_sc.compat.configuration import conf
from airflow_sc.domain.states import DagRunState, TaskInstanceState
from airflow_sc.domain.task_rules import TriggerRule, WeightRule

from . import macros, timezone
from .baseoperator import BaseOperator
from .bases.hook import BaseHook
from .connection import Connection
from .context import Context, get_current_context
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
from .literal import literal
from .notifier import BaseNotifier
from .operators.bash import BashOperator
from .operators.branch import BaseBranchOperator, BranchMixIn
from .operators.datetime import BranchDateTimeOperator
from .operators.email import EmailOperator
from .operators.empty import EmptyOperator
from .operators.latest_only import LatestOnlyOperator
from .operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
from .operators.python_virtualenv import (
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from .operators.trigger_dagrun import TriggerDagRunOperator
from .operators.weekday import BranchDayOfWeekOperator
from .params import Param, ParamsDict, ParamValidationError
from .retry_policy import (
    ExceptionRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryPolicy,
    RetryRule,
)
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
from .weekday import WeekDay
from .xcom_arg import XComArg

__all__ = [
    "DAG",
    "AirflowDagCycleException",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSkipException",
    "BaseBranchOperator",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "BashOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "BranchExternalPythonOperator",
    "BranchMixIn",
    "BranchPythonOperator",
    "BranchPythonVirtualenvOperator",
    "Connection",
    "Context",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagDefinitionError",
    "DagRunState",
    "DagRunTriggerException",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "DependencyMixin",
    "DuplicateTaskIdFound",
    "EdgeModifier",
    "EmailOperator",
    "EmptyOperator",
    "ExceptionRetryPolicy",
    "ExternalPythonOperator",
    "Label",
    "LatestOnlyOperator",
    "Param",
    "ParamValidationError",
    "ParamsDict",
    "PythonOperator",
    "PythonVirtualenvOperator",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "RetryRule",
    "ShortCircuitOperator",
    "TaskDeferred",
    "TaskGroup",
    "TaskInstanceState",
    "Timetable",
    "TriggerDagRunOperator",
    "TriggerRule",
    "Variable",
    "WeekDay",
    "WeightRule",
    "XComArg",
    "chain",
    "chain_linear",
    "conf",
    "cross_downstream",
    "dag",
    "get_current_context",
    "literal",
    "macros",
    "task",
    "task_group",
    "timezone",
]
