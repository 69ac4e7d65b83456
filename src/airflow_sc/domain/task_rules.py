"""The per-task rules a DAG author picks: trigger rules and priority weight rules.

They live in the domain (not in ``sdk``) because the scheduler's policy reads them; the
authoring API re-exports them. Values are Airflow 3's strings, so serialized DAGs match.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TriggerRule", "WeightRule"]


class TriggerRule(StrEnum):
    """When a task may run, judged from the states of its direct upstream tasks."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class WeightRule(StrEnum):
    """How a task's effective priority weight is computed from its graph neighbours."""

    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"
    ABSOLUTE = "absolute"
