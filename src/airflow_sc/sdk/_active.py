"""The DAG and task group that `with` blocks (and `@dag` calls) have made current.

Context variables rather than class-level stacks, so threads and concurrent parses never see
each other's DAGs.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dag import DAG
    from .taskgroup import TaskGroup

__all__ = [
    "current_dag",
    "current_task_group",
    "pop_dag",
    "pop_task_group",
    "push_dag",
    "push_task_group",
]

_dags: ContextVar[tuple[DAG, ...]] = ContextVar("airflow_sc_sdk_dags", default=())
_groups: ContextVar[tuple[TaskGroup, ...]] = ContextVar("airflow_sc_sdk_groups", default=())


def current_dag() -> DAG | None:
    stack = _dags.get()
    return stack[-1] if stack else None


def current_task_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open task group of `dag`, else its root group."""
    if dag is None:
        return None
    for group in reversed(_groups.get()):
        if group.dag is dag:
            return group
    return dag.task_group


def push_dag(dag: DAG) -> None:
    _dags.set((*_dags.get(), dag))


def pop_dag(dag: DAG) -> None:
    stack = _dags.get()
    if not stack or stack[-1] is not dag:
        raise RuntimeError(f"DAG {dag.dag_id!r} is not the innermost open DAG")
    _dags.set(stack[:-1])


def push_task_group(group: TaskGroup) -> None:
    _groups.set((*_groups.get(), group))


def pop_task_group(group: TaskGroup) -> None:
    stack = _groups.get()
    if not stack or stack[-1] is not group:
        raise RuntimeError(f"task group {group.group_id!r} is not the innermost open group")
    _groups.set(stack[:-1])
