"""Authored DAG -> serialized JSON (format version 1, see `spec.py`).

Runs where user code is loaded (the DAG processor's child processes, `dags test`); the
result is plain JSON data, so nothing downstream imports the DAG file again.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow_sc.domain.task_rules import WeightRule
from airflow_sc.sdk import DAG, BaseOperator, TaskGroup
from airflow_sc.sdk.exceptions import DagDefinitionError
from airflow_sc.sdk.priority_strategy import PriorityWeightStrategy, serialize_strategy
from airflow_sc.sdk.timetables import serialize_timetable
from airflow_sc.serialization.spec import FORMAT_VERSION

#: Module names DAG files are imported under (`dag_processing.parsing.module_name`).
DAG_FILE_MODULE_PREFIX = "airflow_sc_dagfile_"

TASK_CALLBACKS = (
    "on_execute_callback",
    "on_success_callback",
    "on_failure_callback",
    "on_retry_callback",
    "on_skipped_callback",
)
DAG_CALLBACKS = ("on_success_callback", "on_failure_callback")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def encode_task(task: BaseOperator) -> dict[str, Any]:
    callbacks = sorted(name for name in TASK_CALLBACKS if getattr(task, name, None))
    return {
        "task_id": task.task_id,
        "operator": type(task).__name__,
        "operator_module": type(task).__module__,
        "is_async": bool(task.is_async),
        "is_empty": bool(task.inherits_from_empty_operator) and not callbacks,
        "downstream_task_ids": sorted(task.downstream_task_ids),
        "owner": task.owner,
        "retries": task.retries,
        "retry_delay": _seconds(task.retry_delay),
        "retry_exponential_backoff": bool(task.retry_exponential_backoff),
        "max_retry_delay": _seconds(task.max_retry_delay),
        "execution_timeout": _seconds(task.execution_timeout),
        "trigger_rule": str(task.trigger_rule),
        "depends_on_past": bool(task.depends_on_past),
        "wait_for_downstream": bool(task.wait_for_downstream),
        "ignore_first_depends_on_past": bool(task.ignore_first_depends_on_past),
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "priority_weight": task.priority_weight,
        "weight_rule": _weight_rule(task.weight_rule),
        "queue": task.queue,
        "run_as_user": task.run_as_user or None,
        "executor": task.executor,
        "max_active_tis_per_dag": task.max_active_tis_per_dag,
        "max_active_tis_per_dagrun": task.max_active_tis_per_dagrun,
        "template_fields": list(task.template_fields),
        "doc_md": task.doc_md,
        "callbacks": callbacks,
        "task_group": task.task_group.group_id if task.task_group is not None else None,
    }


def _encode_groups(dag: DAG) -> dict[str, Any]:
    groups: dict[str, Any] = {}

    def walk(group: TaskGroup) -> None:
        children = sorted(
            child.task_id if isinstance(child, BaseOperator) else (child.group_id or "")
            for child in group.children.values()
        )
        groups[group.group_id or ""] = {
            "parent": group.parent_group.group_id if group.parent_group else None,
            "children": children,
            "tooltip": group.tooltip or "",
        }
        for child in group.children.values():
            if isinstance(child, TaskGroup):
                walk(child)

    walk(dag.task_group)
    return groups


def _weight_rule(rule: WeightRule | PriorityWeightStrategy) -> str | dict[str, Any]:
    """A built-in rule by name; a plugin's strategy as its import path and arguments."""
    if isinstance(rule, PriorityWeightStrategy):
        return serialize_strategy(rule)
    return str(rule)


def _check_timetable(dag: DAG) -> None:
    # The scheduler imports no DAG file: a timetable class defined in one could never be
    # rebuilt there. Plugins (or any importable module the plugins folder holds) can.
    cls = type(dag.timetable)
    if cls.__module__.startswith(DAG_FILE_MODULE_PREFIX):
        raise DagDefinitionError(
            f"DAG {dag.dag_id!r}: the timetable class {cls.__qualname__} is defined in the DAG "
            "file; the scheduler imports no DAG file, so define it in a module of the plugins "
            "folder and register it in an AirflowPlugin's `timetables`",
            filename=dag.fileloc,
            lineno=1,
        )


def encode_dag(dag: DAG, *, dags_folder: str | None = None) -> dict[str, Any]:
    """The canonical serialized form of `dag` (JSON-ready, deterministic)."""
    _check_timetable(dag)
    relative = None
    if dags_folder and dag.fileloc:
        try:
            relative = os.path.relpath(dag.fileloc, dags_folder)
        except ValueError:
            relative = None
    owners = sorted({task.owner for task in dag.tasks if task.owner})
    return {
        "__version": FORMAT_VERSION,
        "dag": {
            "dag_id": dag.dag_id,
            "fileloc": dag.fileloc,
            "relative_fileloc": relative,
            "description": dag.description,
            "doc_md": dag.doc_md,
            "timezone": dag.timezone,
            "timetable": serialize_timetable(dag.timetable),
            "timetable_summary": dag.timetable.summary,
            "timetable_description": dag.timetable.description,
            "start_date": _iso(dag.start_date),
            "end_date": _iso(dag.end_date),
            "catchup": bool(dag.catchup),
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "dagrun_timeout": _seconds(dag.dagrun_timeout),
            "fail_fast": bool(dag.fail_fast),
            "max_consecutive_failed_dag_runs": dag.max_consecutive_failed_dag_runs,
            "tags": sorted(dag.tags),
            "owners": owners,
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "params": dag.params.dump(),
            "callbacks": sorted(name for name in DAG_CALLBACKS if getattr(dag, name, None)),
            "template_searchpath": list(dag.template_searchpath),
            "edge_info": {
                f"{up}>>{down}": dict(info) for (up, down), info in sorted(dag.edge_info.items())
            },
            "task_groups": _encode_groups(dag),
            "tasks": [encode_task(task) for task in sorted(dag.tasks, key=lambda t: t.task_id)],
        },
    }
