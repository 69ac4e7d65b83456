"""The pure domain: states and their legal transitions, identities, per-task rules.

No I/O and no dependency on any other airflow_sc package: every layer may import it.
"""

from airflow_sc.domain.keys import DagRunKey, TaskInstanceKey
from airflow_sc.domain.states import (
    ACTIVE,
    DAG_RUN_FINISHED,
    DAG_RUN_UNFINISHED,
    EXECUTION_STATES,
    FAILED_STATES,
    FINISHED,
    SCHEDULABLE,
    SUCCESS_STATES,
    UNFINISHED,
    DagRunState,
    TaskInstanceState,
    TIState,
    is_finished,
)
from airflow_sc.domain.task_rules import TriggerRule, WeightRule
from airflow_sc.domain.transitions import (
    DAG_RUN_TRANSITIONS,
    TI_TRANSITIONS,
    Actor,
    IllegalTransition,
    check_dag_run_transition,
    check_ti_transition,
    ti_sources,
    ti_transition_actors,
)

__all__ = [
    "ACTIVE",
    "DAG_RUN_FINISHED",
    "DAG_RUN_TRANSITIONS",
    "DAG_RUN_UNFINISHED",
    "EXECUTION_STATES",
    "FAILED_STATES",
    "FINISHED",
    "SCHEDULABLE",
    "SUCCESS_STATES",
    "TI_TRANSITIONS",
    "UNFINISHED",
    "Actor",
    "DagRunKey",
    "DagRunState",
    "IllegalTransition",
    "TIState",
    "TaskInstanceKey",
    "TaskInstanceState",
    "TriggerRule",
    "WeightRule",
    "check_dag_run_transition",
    "check_ti_transition",
    "is_finished",
    "ti_sources",
    "ti_transition_actors",
]
