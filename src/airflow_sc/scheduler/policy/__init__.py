"""The scheduler's pure policy: every decision a stage makes, with no I/O.

A stage loads a snapshot, calls these functions in plain sync code, and writes the result
(DESIGN section 2). Nothing here imports a database, an event loop or the SDK. The rules
other layers share (retries, priority weights, the transition table) live in
`airflow_sc.domain`.
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
from airflow_sc.scheduler.policy.readiness import Readiness, decide_readiness, in_wait_period
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
    "UpstreamSummary",
    "admission_order",
    "admit",
    "dagrun_timed_out",
    "decide_readiness",
    "decide_run_state",
    "effective_leaves",
    "evaluate_trigger_rule",
    "in_wait_period",
    "past_depends_met",
    "runs_to_start",
]
