"""The scheduler's pure policy: every decision a stage makes, with no I/O.

A stage loads a snapshot, calls these functions in plain sync code, and writes the result
(DESIGN section 2). Nothing here imports a database, an event loop or the SDK.
"""

from airflow_sc.scheduler.policy.admission import (
    ActiveCounts,
    Admission,
    Blocked,
    Candidate,
    PoolState,
    admission_order,
    admit,
)
from airflow_sc.scheduler.policy.max_active_runs import ActiveRunScope, QueuedRun, runs_to_start
from airflow_sc.scheduler.policy.past_depends import PastSnapshot, past_depends_met
from airflow_sc.scheduler.policy.priority import TaskWeight, clamp_priority, priority_weights
from airflow_sc.scheduler.policy.readiness import Readiness, decide_readiness, in_wait_period
from airflow_sc.scheduler.policy.retries import (
    DEFAULT_MAX_TASK_RETRY_DELAY,
    next_retry_at,
    retry_delay_for,
    retry_jitter_hash,
    should_retry,
)
from airflow_sc.scheduler.policy.run_state import (
    RunOutcome,
    RunStateDecision,
    RunTaskInstance,
    dagrun_timed_out,
    decide_run_state,
    effective_leaves,
)
from airflow_sc.scheduler.policy.trigger_rules import (
    Decision,
    UpstreamSummary,
    evaluate_trigger_rule,
)

__all__ = [
    "DEFAULT_MAX_TASK_RETRY_DELAY",
    "ActiveCounts",
    "ActiveRunScope",
    "Admission",
    "Blocked",
    "Candidate",
    "Decision",
    "PastSnapshot",
    "PoolState",
    "QueuedRun",
    "Readiness",
    "RunOutcome",
    "RunStateDecision",
    "RunTaskInstance",
    "TaskWeight",
    "UpstreamSummary",
    "admission_order",
    "admit",
    "clamp_priority",
    "dagrun_timed_out",
    "decide_readiness",
    "decide_run_state",
    "effective_leaves",
    "evaluate_trigger_rule",
    "in_wait_period",
    "next_retry_at",
    "past_depends_met",
    "priority_weights",
    "retry_delay_for",
    "retry_jitter_hash",
    "runs_to_start",
    "should_retry",
]
