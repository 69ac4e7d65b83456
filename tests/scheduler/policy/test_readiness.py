"""The combined schedule_tis verdict: trigger rule, past dependencies, retry waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_sc.domain import TriggerRule
from airflow_sc.scheduler.policy import (
    Decision,
    PastSnapshot,
    Readiness,
    UpstreamSummary,
    decide_readiness,
    past_depends_met,
)

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
DONE = UpstreamSummary(total=1, success=1)
SKIPPED = UpstreamSummary(total=1, skipped=1)
FAILED = UpstreamSummary(total=1, failed=1)


@pytest.mark.parametrize(
    ("readiness", "expected"),
    [
        (Readiness(TriggerRule.ALL_SUCCESS, DONE), Decision.RUN),
        (Readiness(TriggerRule.ALL_SUCCESS, DONE, past_depends_met=False), Decision.WAIT),
        # A state the trigger rule settles is written even if the past is not met ...
        (
            Readiness(TriggerRule.ALL_SUCCESS, FAILED, past_depends_met=False),
            Decision.UPSTREAM_FAILED,
        ),
        (Readiness(TriggerRule.ALL_SUCCESS, SKIPPED, past_depends_met=False), Decision.SKIP),
        # ... except a skip, for a task that waits for its past before skipping.
        (
            Readiness(
                TriggerRule.ALL_SUCCESS,
                SKIPPED,
                past_depends_met=False,
                wait_for_past_depends_before_skipping=True,
            ),
            Decision.WAIT,
        ),
        (
            Readiness(
                TriggerRule.ALL_SUCCESS,
                SKIPPED,
                past_depends_met=True,
                wait_for_past_depends_before_skipping=True,
            ),
            Decision.SKIP,
        ),
        # Retry: ready strictly after next_retry_at. Reschedule: ready from reschedule_at on.
        (Readiness(TriggerRule.ALL_SUCCESS, DONE, next_retry_at=NOW), Decision.WAIT),
        (
            Readiness(TriggerRule.ALL_SUCCESS, DONE, next_retry_at=NOW - timedelta(microseconds=1)),
            Decision.RUN,
        ),
        (Readiness(TriggerRule.ALL_SUCCESS, DONE, reschedule_at=NOW), Decision.RUN),
        (
            Readiness(TriggerRule.ALL_SUCCESS, DONE, reschedule_at=NOW + timedelta(seconds=1)),
            Decision.WAIT,
        ),
    ],
)
def test_decide_readiness(readiness: Readiness, expected: Decision) -> None:
    assert decide_readiness(readiness, now=NOW) is expected


def test_deadlock_check_ignores_retry_waits() -> None:
    waiting = Readiness(TriggerRule.ALL_SUCCESS, DONE, next_retry_at=NOW + timedelta(hours=1))
    assert decide_readiness(waiting, now=NOW) is Decision.WAIT
    assert decide_readiness(waiting, now=None) is Decision.RUN


@pytest.mark.parametrize(
    ("past", "met"),
    [
        (PastSnapshot(), True),  # no depends_on_past
        (PastSnapshot(depends_on_past=True), True),  # first run of the DAG
        (
            PastSnapshot(
                depends_on_past=True, previous_run_exists=True, previous_run_has_task=True
            ),
            True,
        ),
        (
            PastSnapshot(
                depends_on_past=True,
                previous_run_exists=True,
                previous_run_has_task=True,
                previous_unsuccessful=1,
            ),
            False,
        ),
        # The previous run did not have this task yet.
        (PastSnapshot(depends_on_past=True, previous_run_exists=True), False),
        (
            PastSnapshot(
                depends_on_past=True, previous_run_exists=True, ignore_first_depends_on_past=True
            ),
            True,
        ),
        (
            PastSnapshot(
                depends_on_past=True,
                previous_run_exists=True,
                ignore_first_depends_on_past=True,
                any_prior_instance=True,
            ),
            False,
        ),
        # wait_for_downstream: the previous instance's direct downstreams must be done too.
        (
            PastSnapshot(
                depends_on_past=True,
                wait_for_downstream=True,
                previous_run_exists=True,
                previous_run_has_task=True,
                previous_downstream_unsuccessful=True,
            ),
            False,
        ),
        (
            PastSnapshot(
                depends_on_past=True,
                previous_run_exists=True,
                previous_run_has_task=True,
                previous_downstream_unsuccessful=True,
            ),
            True,
        ),
    ],
)
def test_past_depends_met(past: PastSnapshot, met: bool) -> None:
    assert past_depends_met(past) is met
