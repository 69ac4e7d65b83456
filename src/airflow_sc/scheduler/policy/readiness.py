"""The whole schedule_tis verdict for one schedulable task instance.

Combines the trigger rule (`trigger_rules`), the past dependencies (`past_depends`) and the
retry / reschedule wait the way Airflow 3 evaluates a task instance's dependencies together:
a state the trigger rule settles (skipped, upstream_failed, removed) is written even when the
past or the retry period would hold the task back, except that a task with
``wait_for_past_depends_before_skipping`` is not skipped until its past dependencies are met.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow_sc.domain.task_rules import TriggerRule
from airflow_sc.scheduler.policy.trigger_rules import (
    Decision,
    UpstreamSummary,
    evaluate_trigger_rule,
)

__all__ = ["Readiness", "decide_readiness", "in_wait_period"]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Everything about one task instance that schedule_tis decides on."""

    trigger_rule: TriggerRule
    upstream: UpstreamSummary
    map_index: int = -1
    past_depends_met: bool = True
    wait_for_past_depends_before_skipping: bool = False
    next_retry_at: datetime | None = None
    """Set for an up_for_retry instance: `retries.next_retry_at` of its failed try."""
    reschedule_at: datetime | None = None
    """Set for an up_for_reschedule instance: the date its sensor asked to be poked again."""


def in_wait_period(ti: Readiness, now: datetime) -> bool:
    """Is a retrying or rescheduled task instance still waiting?

    Airflow's edges: a retry is ready strictly after ``next_retry_at``, a reschedule from
    ``reschedule_at`` on.
    """
    if ti.next_retry_at is not None and not ti.next_retry_at < now:
        return True
    return ti.reschedule_at is not None and now < ti.reschedule_at


def decide_readiness(
    ti: Readiness, *, now: datetime | None, flag_upstream_failed: bool = True
) -> Decision:
    """``RUN`` (schedule it), ``WAIT``, or the state to write.

    ``now=None`` ignores retry and reschedule waits, as Airflow does when it checks a run for
    deadlock: a ``WAIT`` then means the task instance cannot progress on its own.
    """
    decision = evaluate_trigger_rule(
        ti.trigger_rule,
        ti.upstream,
        map_index=ti.map_index,
        flag_upstream_failed=flag_upstream_failed,
    )
    if decision is Decision.SKIP:
        held = ti.wait_for_past_depends_before_skipping and not ti.past_depends_met
        return Decision.WAIT if held else decision
    if decision is not Decision.RUN:
        return decision
    if not ti.past_depends_met or (now is not None and in_wait_period(ti, now)):
        return Decision.WAIT
    return Decision.RUN
