"""What branching tasks decide: which downstream tasks to skip, as data for the task runner.

`BranchPythonOperator`, `@task.branch`, `ShortCircuitOperator`, `@task.short_circuit` and
`LatestOnlyOperator` return a `SkipDecision` from ``execute``. The task runner then:

1. pushes ``decision.return_value`` as the task's ``return_value`` XCom (if ``do_xcom_push``),
2. marks every task id in ``decision.skip`` SKIPPED in the same DAG run (unless it is already
   finished), and
3. marks the branching task itself SUCCESS.

``decision.follow`` lists the task ids the branch chose (for logs and the UI). The functions
here are pure: they read only the DAG's graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import AirflowException

if TYPE_CHECKING:
    from .baseoperator import BaseOperator

__all__ = ["SkipDecision", "branch_decision", "short_circuit_decision", "skip_all_decision"]


@dataclass(frozen=True, slots=True)
class SkipDecision:
    """A branching task's result: its XCom value and the tasks to skip and to follow."""

    return_value: Any
    skip: frozenset[str]
    follow: frozenset[str]


def _branch_ids(branches: object) -> set[str]:
    if branches is None:
        return set()
    items = [branches] if isinstance(branches, str) else branches
    if not isinstance(items, Iterable):
        raise AirflowException(
            f"a branch must return a task id or a list of them, got {branches!r}"
        )
    chosen = set()
    for item in items:
        if not isinstance(item, str):
            raise AirflowException(f"branch task ids must be strings, got {item!r}")
        chosen.add(item)
    return chosen


def branch_decision(task: BaseOperator, branches: object) -> SkipDecision:
    """Follow `branches` (task or task group ids) and skip the other direct downstream tasks.

    A direct downstream task that is also reachable from a followed branch (a "join") is
    not skipped: its trigger rule decides.
    """
    dag = task.dag
    chosen = _branch_ids(branches)
    invalid = sorted(c for c in chosen if c not in dag.task_dict and c not in dag.task_group_dict)
    if invalid:
        raise AirflowException(
            f"Branch task {task.task_id!r} returned ids that are neither tasks nor task "
            f"groups of DAG {dag.dag_id!r}: {invalid}"
        )
    follow: set[str] = set()
    for branch in chosen:
        if branch in dag.task_dict:
            follow.add(branch)
        else:
            follow.update(root.task_id for root in dag.task_group_dict[branch].roots)
    reachable: set[str] = set()
    for branch in follow:
        reachable |= dag.get_task(branch).get_flat_relative_ids(upstream=False)
    skip = {t for t in task.downstream_task_ids if t not in follow and t not in reachable}
    return SkipDecision(branches, frozenset(skip), frozenset(follow))


def short_circuit_decision(
    task: BaseOperator, condition: Any, *, ignore_downstream_trigger_rules: bool
) -> SkipDecision:
    """Continue when `condition` is truthy; otherwise skip downstream tasks.

    With `ignore_downstream_trigger_rules`, every task downstream (transitively) is skipped;
    without it only the direct ones, and the rest follow their trigger rules.
    """
    direct = frozenset(task.downstream_task_ids)
    if condition:
        return SkipDecision(condition, frozenset(), direct)
    if ignore_downstream_trigger_rules:
        return SkipDecision(
            condition, frozenset(task.get_flat_relative_ids(upstream=False)), direct
        )
    return SkipDecision(condition, direct, frozenset())


def skip_all_decision(task: BaseOperator, return_value: Any = None) -> SkipDecision:
    """Skip every direct downstream task."""
    return SkipDecision(return_value, frozenset(task.downstream_task_ids), frozenset())
