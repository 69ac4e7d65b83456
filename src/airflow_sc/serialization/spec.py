"""`DagSpec` / `TaskSpec`: a DAG as the scheduler sees it, rebuilt from serialized JSON.

The JSON layout (format version 1)::

    {"__version": 1,
     "dag": {"dag_id", "fileloc", "relative_fileloc", "description", "doc_md", "timezone",
             "timetable": {"__type", "__var"}, "timetable_summary", "start_date", "end_date",
             "catchup", "max_active_runs", "max_active_tasks", "dagrun_timeout",
             "fail_fast", "max_consecutive_failed_dag_runs",
             "tags", "owners", "is_paused_upon_creation", "params", "callbacks",
             "template_searchpath", "edge_info", "task_groups",
             "tasks": [{"task_id", "operator", "is_async", "is_empty", "downstream_task_ids",
                        "trigger_rule", "retries", ...}, ...]}}

Datetimes are ISO 8601 strings in UTC, durations are seconds (float), every list that has
no meaningful order is sorted: two parses of an unchanged file give byte-identical JSON,
so `content_hash` changes only when the DAG does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow_sc.domain import TriggerRule, WeightRule
from airflow_sc.domain.graph import reachable
from airflow_sc.domain.priority import TaskWeight, priority_weights
from airflow_sc.sdk.params import ParamsDict
from airflow_sc.sdk.timetables import Timetable, deserialize_timetable

FORMAT_VERSION = 1


class SerializationError(ValueError):
    """Serialized DAG data that this airflow-sc cannot read."""


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(data: Mapping[str, Any]) -> str:
    """Stable hash of a serialized DAG: changes exactly when its canonical JSON does.

    MD5 (32 hex digits, as Airflow's `dag_hash`): a change detector, not a security check.
    """
    return hashlib.md5(canonical_json(data).encode(), usedforsecurity=False).hexdigest()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _weight_rule(stored: Any) -> WeightRule:
    return WeightRule.ABSOLUTE if isinstance(stored, Mapping) else WeightRule(stored)


def _weight_strategy(stored: Any) -> Mapping[str, Any] | None:
    return dict(stored) if isinstance(stored, Mapping) else None


def _td(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


#: `TaskSpec` attributes a list of a DAG's tasks sorts by (the API's `GET .../tasks`, the
#: CLI's `tasks list`).
TASK_ORDER_KEYS = ("task_id", "owner", "retries", "pool", "priority_weight", "queue")


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_id: str
    operator: str
    downstream_task_ids: frozenset[str]
    is_async: bool = False
    #: An EmptyOperator without callbacks: the scheduler may mark it success without running it.
    is_empty: bool = False
    owner: str = "airflow"
    retries: int = 0
    retry_delay: timedelta = timedelta(minutes=5)
    retry_exponential_backoff: bool = False
    max_retry_delay: timedelta | None = None
    execution_timeout: timedelta | None = None
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    depends_on_past: bool = False
    wait_for_downstream: bool = False
    ignore_first_depends_on_past: bool = True
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    weight_rule: WeightRule = WeightRule.DOWNSTREAM
    #: A plugin's priority weight strategy, as stored (``{"__type", "__var"}``): the
    #: scheduler asks it for each new task instance's weight (`weight_rule` is then
    #: ``absolute``, for the task's own entry in other tasks' sums).
    weight_strategy: Mapping[str, Any] | None = None
    queue: str = "default"
    #: The OS user the task runs as (Airflow's ``run_as_user``; None: the defaults).
    run_as_user: str | None = None
    executor: str | None = None
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None
    template_fields: tuple[str, ...] = ()
    doc_md: str | None = None
    #: Names of the callbacks defined on the task (`on_failure_callback`, ...).
    callbacks: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        return cls(
            task_id=data["task_id"],
            operator=data["operator"],
            downstream_task_ids=frozenset(data.get("downstream_task_ids", ())),
            is_async=bool(data.get("is_async", False)),
            is_empty=bool(data.get("is_empty", False)),
            owner=data.get("owner", "airflow"),
            retries=int(data.get("retries", 0)),
            retry_delay=_td(data.get("retry_delay", 300.0)) or timedelta(0),
            retry_exponential_backoff=bool(data.get("retry_exponential_backoff", False)),
            max_retry_delay=_td(data.get("max_retry_delay")),
            execution_timeout=_td(data.get("execution_timeout")),
            trigger_rule=TriggerRule(data.get("trigger_rule", "all_success")),
            depends_on_past=bool(data.get("depends_on_past", False)),
            wait_for_downstream=bool(data.get("wait_for_downstream", False)),
            ignore_first_depends_on_past=bool(data.get("ignore_first_depends_on_past", True)),
            pool=data.get("pool") or "default_pool",
            pool_slots=int(data.get("pool_slots", 1)),
            priority_weight=int(data.get("priority_weight", 1)),
            weight_rule=_weight_rule(data.get("weight_rule", "downstream")),
            weight_strategy=_weight_strategy(data.get("weight_rule")),
            queue=data.get("queue") or "default",
            run_as_user=data.get("run_as_user") or None,
            executor=data.get("executor"),
            max_active_tis_per_dag=data.get("max_active_tis_per_dag"),
            max_active_tis_per_dagrun=data.get("max_active_tis_per_dagrun"),
            template_fields=tuple(data.get("template_fields", ())),
            doc_md=data.get("doc_md"),
            callbacks=frozenset(data.get("callbacks", ())),
        )


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    tasks: Mapping[str, TaskSpec]
    timetable: Timetable
    fileloc: str = ""
    relative_fileloc: str | None = None
    description: str | None = None
    doc_md: str | None = None
    timezone: str = "UTC"
    timetable_summary: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool = False
    max_active_runs: int = 16
    max_active_tasks: int = 16
    dagrun_timeout: timedelta | None = None
    #: Accepted and stored; not enforced by the scheduler yet.
    fail_fast: bool = False
    max_consecutive_failed_dag_runs: int = 0
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    is_paused_upon_creation: bool | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    callbacks: frozenset[str] = frozenset()
    template_searchpath: tuple[str, ...] = ()
    edge_info: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    task_groups: Mapping[str, Any] = field(default_factory=dict)
    #: The serialized form this spec was read from, and its hash.
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    dag_hash: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DagSpec:
        version = data.get("__version")
        if version != FORMAT_VERSION:
            raise SerializationError(
                f"serialized DAG format {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        dag = data["dag"]
        try:
            tasks = {t["task_id"]: TaskSpec.from_dict(t) for t in dag["tasks"]}
            return cls(
                dag_id=dag["dag_id"],
                tasks=tasks,
                timetable=deserialize_timetable(dag["timetable"]),
                fileloc=dag.get("fileloc", ""),
                relative_fileloc=dag.get("relative_fileloc"),
                description=dag.get("description"),
                doc_md=dag.get("doc_md"),
                timezone=dag.get("timezone", "UTC"),
                timetable_summary=dag.get("timetable_summary"),
                start_date=_dt(dag.get("start_date")),
                end_date=_dt(dag.get("end_date")),
                catchup=bool(dag.get("catchup", False)),
                max_active_runs=int(dag.get("max_active_runs", 16)),
                max_active_tasks=int(dag.get("max_active_tasks", 16)),
                dagrun_timeout=_td(dag.get("dagrun_timeout")),
                fail_fast=bool(dag.get("fail_fast", False)),
                max_consecutive_failed_dag_runs=int(dag.get("max_consecutive_failed_dag_runs", 0)),
                tags=tuple(dag.get("tags", ())),
                owners=tuple(dag.get("owners", ())),
                is_paused_upon_creation=dag.get("is_paused_upon_creation"),
                params=dict(dag.get("params", {})),
                callbacks=frozenset(dag.get("callbacks", ())),
                template_searchpath=tuple(dag.get("template_searchpath", ())),
                edge_info=dict(dag.get("edge_info", {})),
                task_groups=dict(dag.get("task_groups", {})),
                data=data,
                dag_hash=content_hash(data),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(
                f"serialized DAG {dag.get('dag_id')!r} is malformed: {exc}"
            ) from exc

    @classmethod
    def from_json(cls, text: str) -> DagSpec:
        return cls.from_dict(json.loads(text))

    @cached_property
    def upstream_task_ids(self) -> Mapping[str, frozenset[str]]:
        parents: dict[str, set[str]] = {task_id: set() for task_id in self.tasks}
        for task in self.tasks.values():
            for child in task.downstream_task_ids:
                parents[child].add(task.task_id)
        return {task_id: frozenset(ids) for task_id, ids in parents.items()}

    @cached_property
    def downstream_task_ids(self) -> Mapping[str, frozenset[str]]:
        """Each task's direct downstream task ids."""
        return {task_id: task.downstream_task_ids for task_id, task in self.tasks.items()}

    def downstream_of(self, task_ids: Collection[str]) -> set[str]:
        """Every task downstream of `task_ids`, however far (the tasks themselves excluded
        unless a path leads back to them)."""
        return reachable(task_ids, self.downstream_task_ids)

    @cached_property
    def leaves(self) -> frozenset[str]:
        return frozenset(t.task_id for t in self.tasks.values() if not t.downstream_task_ids)

    @cached_property
    def roots(self) -> frozenset[str]:
        return frozenset(t for t, ups in self.upstream_task_ids.items() if not ups)

    @cached_property
    def priority_weights(self) -> Mapping[str, int]:
        """Effective priority weight of every task under its weight rule."""
        return priority_weights(
            {t.task_id: TaskWeight(t.priority_weight, t.weight_rule) for t in self.tasks.values()},
            self.downstream_task_ids,
        )

    def params_dict(self) -> ParamsDict:
        """The DAG's params, for validating a run's conf."""
        return ParamsDict.load(dict(self.params))
