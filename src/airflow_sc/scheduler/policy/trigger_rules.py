"""Trigger rules: from the states of a task's direct upstreams to what happens to the task.

The schedule_tis stage counts the finished upstream task instances of each schedulable task
instance (`UpstreamSummary.from_states`) and calls `evaluate_trigger_rule`. The result is
Airflow 3's ``TriggerRuleDep`` verdict, with its "flag upstream failed" behaviour folded in:

- ``RUN``: the rule is met; with the other dependencies met the task instance is scheduled.
- ``WAIT``: not met yet; nothing to write.
- ``SKIP`` / ``UPSTREAM_FAILED``: the rule can no longer (or must not) be met; write the state.
- ``REMOVED``: only for a mapped task instance whose upstream expanded to fewer indexes.

With ``flag_upstream_failed=False`` (a dry check, e.g. the UI's "why is this not running")
only ``RUN`` or ``WAIT`` come back, as in Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from airflow_sc.domain.states import TaskInstanceState, TIState
from airflow_sc.domain.task_rules import TriggerRule

__all__ = ["Decision", "UpstreamSummary", "evaluate_trigger_rule"]

TR = TriggerRule


class Decision(StrEnum):
    RUN = "run"
    WAIT = "wait"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class UpstreamSummary:
    """Counts of a task instance's direct upstream task instances by state.

    ``total`` counts every relevant upstream task instance, finished or not; the other counts
    only finished ones. The ``*_setup`` counts repeat the same for upstreams that are setup
    tasks (they are included in the plain counts too) and matter only to
    ``all_done_setup_success``.
    """

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0
    total_setup: int = 0
    success_setup: int = 0
    skipped_setup: int = 0

    def __post_init__(self) -> None:
        if min(self.total, self.success, self.skipped, self.failed) < 0:
            raise ValueError("upstream counts cannot be negative")
        if min(self.upstream_failed, self.removed, self.success_setup, self.skipped_setup) < 0:
            raise ValueError("upstream counts cannot be negative")
        if self.done > self.total or self.success_setup + self.skipped_setup > self.total_setup:
            raise ValueError(f"more finished upstreams than upstreams: {self}")

    @property
    def done(self) -> int:
        """Finished upstreams: success, skipped, failed, upstream_failed or removed."""
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def from_states(
        cls, states: Iterable[TIState], *, setup_states: Iterable[TIState] = ()
    ) -> UpstreamSummary:
        """Summarise upstream states; ``setup_states`` are those of setup-task upstreams.

        ``states`` must include the setup upstreams as well.
        """
        listed = list(states)
        setups = list(setup_states)
        return cls(
            total=len(listed),
            success=listed.count(TaskInstanceState.SUCCESS),
            skipped=listed.count(TaskInstanceState.SKIPPED),
            failed=listed.count(TaskInstanceState.FAILED),
            upstream_failed=listed.count(TaskInstanceState.UPSTREAM_FAILED),
            removed=listed.count(TaskInstanceState.REMOVED),
            total_setup=len(setups),
            success_setup=setups.count(TaskInstanceState.SUCCESS),
            skipped_setup=setups.count(TaskInstanceState.SKIPPED),
        )


def evaluate_trigger_rule(
    rule: TriggerRule,
    upstream: UpstreamSummary,
    *,
    map_index: int = -1,
    flag_upstream_failed: bool = True,
) -> Decision:
    """Decide a task instance from its trigger rule and its upstream summary."""
    if upstream.total == 0 or rule is TR.ALWAYS:
        return Decision.RUN
    if flag_upstream_failed:
        settled = _settled_early(rule, upstream, map_index)
        if settled is not None:
            return settled
    return Decision.RUN if _is_met(rule, upstream, map_index) else Decision.WAIT


def _settled_early(rule: TriggerRule, up: UpstreamSummary, map_index: int) -> Decision | None:
    """The state Airflow writes when the rule can no longer be met (or must skip)."""
    failures = up.failed + up.upstream_failed
    match rule:
        case TR.ALL_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if up.skipped:
                return Decision.SKIP
            if up.removed and up.success and map_index >= up.success:
                # A mapped instance whose index no longer exists upstream.
                return Decision.REMOVED
        case TR.ALL_FAILED:
            if up.success or up.skipped:
                return Decision.SKIP
        case TR.ONE_SUCCESS:
            if up.all_done and up.done == up.skipped:
                return Decision.SKIP
            if up.all_done and up.success == 0:
                return Decision.UPSTREAM_FAILED
        case TR.ONE_FAILED:
            if up.all_done and not failures:
                return Decision.SKIP
        case TR.ONE_DONE:
            if up.all_done and not (up.failed or up.success):
                return Decision.SKIP
        case TR.NONE_FAILED:
            if failures:
                return Decision.UPSTREAM_FAILED
        case TR.NONE_FAILED_MIN_ONE_SUCCESS:
            if failures:
                return Decision.UPSTREAM_FAILED
            if up.skipped == up.total:
                return Decision.SKIP
        case TR.NONE_SKIPPED:
            if up.skipped:
                return Decision.SKIP
        case TR.ALL_SKIPPED:
            if up.success or failures:
                return Decision.SKIP
        case TR.ALL_DONE_MIN_ONE_SUCCESS:
            # Skipped upstreams do not count as done for this rule.
            if up.skipped:
                return Decision.SKIP
            if up.done - up.skipped >= up.total - up.skipped and up.success == 0:
                return Decision.UPSTREAM_FAILED
        case TR.ALL_DONE_SETUP_SUCCESS:
            if up.all_done and up.total_setup and up.skipped_setup >= up.total_setup:
                return Decision.SKIP
            if up.all_done and up.total_setup and up.success_setup == 0:
                return Decision.UPSTREAM_FAILED
        case TR.ALL_DONE | TR.ALWAYS:
            pass
    return None


def _is_met(rule: TriggerRule, up: UpstreamSummary, map_index: int) -> bool:
    # A mapped instance does not wait for upstream indexes that were removed.
    removed_excused = up.removed if map_index >= 0 else 0
    match rule:
        case TR.ALL_SUCCESS:
            return up.total - up.success - removed_excused <= 0
        case TR.ALL_FAILED:
            return up.total - up.failed - up.upstream_failed - removed_excused <= 0
        case TR.ALL_DONE:
            return up.all_done
        case TR.ALL_DONE_MIN_ONE_SUCCESS:
            not_skipped = up.total - up.skipped - removed_excused
            not_skipped_done = up.done - up.skipped - removed_excused
            return up.skipped == 0 and not_skipped_done >= not_skipped and up.success > 0
        case TR.ALL_DONE_SETUP_SUCCESS:
            return up.all_done and not (up.total_setup and not up.success_setup)
        case TR.ALL_SKIPPED:
            return up.total - up.skipped <= 0
        case TR.ONE_SUCCESS:
            return up.success > 0
        case TR.ONE_FAILED:
            return up.failed + up.upstream_failed > 0
        case TR.ONE_DONE:
            return up.success + up.failed > 0
        case TR.NONE_FAILED | TR.NONE_FAILED_MIN_ONE_SUCCESS:
            return up.total - up.success - up.skipped - removed_excused <= 0
        case TR.NONE_SKIPPED:
            return up.all_done and up.skipped == 0
        case TR.ALWAYS:
            return True
