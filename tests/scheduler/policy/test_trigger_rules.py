"""Trigger rules, row by row as Airflow documents them, plus a property check against a
direct reading of each rule's definition."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.domain import TaskInstanceState, TriggerRule
from airflow_sc.scheduler.policy import Decision, UpstreamSummary, evaluate_trigger_rule

TR = TriggerRule
D = Decision
RUN, WAIT, SKIP, UF, REMOVED = D.RUN, D.WAIT, D.SKIP, D.UPSTREAM_FAILED, D.REMOVED


def up(total: int, **counts: int) -> UpstreamSummary:
    return UpstreamSummary(total=total, **counts)


CASES: list[tuple[TriggerRule, UpstreamSummary, Decision]] = [
    # all_success (default): every upstream succeeded; a failure fails it, a skip skips it.
    (TR.ALL_SUCCESS, up(2, success=2), RUN),
    (TR.ALL_SUCCESS, up(2, success=1), WAIT),
    (TR.ALL_SUCCESS, up(3, success=1, failed=1), UF),
    (TR.ALL_SUCCESS, up(3, upstream_failed=1), UF),
    (TR.ALL_SUCCESS, up(3, skipped=1), SKIP),  # skips propagate before the rest finish
    (TR.ALL_SUCCESS, up(3, skipped=1, failed=1), UF),
    # all_failed
    (TR.ALL_FAILED, up(2, failed=1, upstream_failed=1), RUN),
    (TR.ALL_FAILED, up(2, failed=1), WAIT),
    (TR.ALL_FAILED, up(2, failed=1, success=1), SKIP),
    (TR.ALL_FAILED, up(2, skipped=1), SKIP),
    # all_done
    (TR.ALL_DONE, up(4, success=1, failed=1, skipped=1, upstream_failed=1), RUN),
    (TR.ALL_DONE, up(2, failed=1), WAIT),
    # all_done_min_one_success: skipped upstreams do not count as done
    (TR.ALL_DONE_MIN_ONE_SUCCESS, up(2, success=1, failed=1), RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, up(2, success=1), WAIT),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, up(2, failed=1, upstream_failed=1), UF),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, up(2, success=1, skipped=1), SKIP),
    # all_done_setup_success
    (TR.ALL_DONE_SETUP_SUCCESS, up(2, success=1, failed=1, total_setup=1, success_setup=1), RUN),
    (TR.ALL_DONE_SETUP_SUCCESS, up(2, skipped=1, failed=1, total_setup=1, skipped_setup=1), SKIP),
    (TR.ALL_DONE_SETUP_SUCCESS, up(2, failed=2, total_setup=1), UF),
    (TR.ALL_DONE_SETUP_SUCCESS, up(2, success=1, total_setup=1, success_setup=1), WAIT),
    (TR.ALL_DONE_SETUP_SUCCESS, up(2, failed=2), RUN),
    # all_skipped
    (TR.ALL_SKIPPED, up(2, skipped=2), RUN),
    (TR.ALL_SKIPPED, up(2, skipped=1), WAIT),
    (TR.ALL_SKIPPED, up(2, success=1), SKIP),
    (TR.ALL_SKIPPED, up(2, upstream_failed=1), SKIP),
    # one_success: runs as soon as one succeeded
    (TR.ONE_SUCCESS, up(3, success=1), RUN),
    (TR.ONE_SUCCESS, up(3, failed=2), WAIT),
    (TR.ONE_SUCCESS, up(2, skipped=2), SKIP),
    (TR.ONE_SUCCESS, up(2, failed=1, skipped=1), UF),
    # one_failed: runs as soon as one failed
    (TR.ONE_FAILED, up(3, failed=1), RUN),
    (TR.ONE_FAILED, up(3, upstream_failed=1), RUN),
    (TR.ONE_FAILED, up(3, success=2), WAIT),
    (TR.ONE_FAILED, up(2, success=1, skipped=1), SKIP),
    # one_done: one succeeded or failed
    (TR.ONE_DONE, up(3, success=1), RUN),
    (TR.ONE_DONE, up(3, failed=1), RUN),
    (TR.ONE_DONE, up(3, skipped=2), WAIT),
    (TR.ONE_DONE, up(2, skipped=1, upstream_failed=1), SKIP),
    # none_failed: nothing failed (skips are fine)
    (TR.NONE_FAILED, up(2, success=1, skipped=1), RUN),
    (TR.NONE_FAILED, up(2, skipped=2), RUN),
    (TR.NONE_FAILED, up(3, success=1), WAIT),
    (TR.NONE_FAILED, up(3, failed=1), UF),
    (TR.NONE_FAILED, up(3, upstream_failed=1), UF),
    # none_failed_min_one_success
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, up(2, success=1, skipped=1), RUN),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, up(2, skipped=2), SKIP),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, up(3, skipped=2), WAIT),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, up(3, failed=1), UF),
    # none_skipped
    (TR.NONE_SKIPPED, up(2, success=1, failed=1), RUN),
    (TR.NONE_SKIPPED, up(2, success=1), WAIT),
    (TR.NONE_SKIPPED, up(3, skipped=1), SKIP),
    # always
    (TR.ALWAYS, up(2), RUN),
    (TR.ALWAYS, up(2, failed=2), RUN),
]


@pytest.mark.parametrize(("rule", "upstream", "expected"), CASES)
def test_documented_case(rule: TriggerRule, upstream: UpstreamSummary, expected: Decision) -> None:
    assert evaluate_trigger_rule(rule, upstream) is expected


@pytest.mark.parametrize("rule", list(TR))
def test_a_task_without_upstreams_runs(rule: TriggerRule) -> None:
    assert evaluate_trigger_rule(rule, up(0)) is RUN


@pytest.mark.parametrize(
    ("rule", "upstream", "expected"),
    [
        (TR.ALL_SUCCESS, up(2, skipped=1), WAIT),
        (TR.ALL_SUCCESS, up(2, failed=1, success=1), WAIT),
        (TR.ONE_SUCCESS, up(2, skipped=2), WAIT),
        # Without the flag Airflow's met-check alone decides, which here lets it run.
        (TR.NONE_FAILED_MIN_ONE_SUCCESS, up(2, skipped=2), RUN),
    ],
)
def test_dry_check_never_writes_a_state(
    rule: TriggerRule, upstream: UpstreamSummary, expected: Decision
) -> None:
    assert evaluate_trigger_rule(rule, upstream, flag_upstream_failed=False) is expected


@pytest.mark.parametrize(
    ("upstream", "map_index", "expected"),
    [
        (up(3, success=2, removed=1), 1, RUN),  # removed upstream indexes are excused
        (up(3, success=2, removed=1), 2, REMOVED),  # this index no longer exists upstream
        (up(3, success=2, removed=1), -1, WAIT),  # an unmapped instance waits for all
    ],
)
def test_mapped_instances_and_removed_upstreams(
    upstream: UpstreamSummary, map_index: int, expected: Decision
) -> None:
    assert evaluate_trigger_rule(TR.ALL_SUCCESS, upstream, map_index=map_index) is expected


def test_summary_from_states_counts_only_finished_upstreams() -> None:
    S = TaskInstanceState
    summary = UpstreamSummary.from_states(
        [S.SUCCESS, S.SUCCESS, S.RUNNING, None, S.SKIPPED, S.UPSTREAM_FAILED],
        setup_states=[S.SUCCESS],
    )
    assert summary == up(6, success=2, skipped=1, upstream_failed=1, total_setup=1, success_setup=1)
    assert summary.done == 4
    assert not summary.all_done


def test_inconsistent_summaries_are_rejected() -> None:
    with pytest.raises(ValueError, match="more finished"):
        up(1, success=1, failed=1)
    with pytest.raises(ValueError, match="negative"):
        up(1, success=-1)


# -- property: agreement with a direct reading of the definitions --------------------------

Counts = tuple[int, int, int, int]  # success, skipped, failed, upstream_failed

DEFINITIONS: dict[TriggerRule, Callable[[int, int, int, int], bool]] = {
    # Whether the task runs once every upstream is done, read off the documentation.
    TR.ALL_SUCCESS: lambda s, k, f, u: k == f == u == 0,
    TR.ALL_FAILED: lambda s, k, f, u: s == k == 0,
    TR.ALL_DONE: lambda s, k, f, u: True,
    TR.ALL_DONE_MIN_ONE_SUCCESS: lambda s, k, f, u: k == 0 and s >= 1,
    TR.ALL_DONE_SETUP_SUCCESS: lambda s, k, f, u: True,  # no setup upstreams here
    TR.ALL_SKIPPED: lambda s, k, f, u: s == f == u == 0,
    TR.ONE_SUCCESS: lambda s, k, f, u: s >= 1,
    TR.ONE_FAILED: lambda s, k, f, u: f + u >= 1,
    TR.ONE_DONE: lambda s, k, f, u: s + f >= 1,
    TR.NONE_FAILED: lambda s, k, f, u: f + u == 0,
    TR.NONE_FAILED_MIN_ONE_SUCCESS: lambda s, k, f, u: f + u == 0 and s >= 1,
    TR.NONE_SKIPPED: lambda s, k, f, u: k == 0,
    TR.ALWAYS: lambda s, k, f, u: True,
}

finished_counts = st.tuples(*[st.integers(0, 3)] * 4)


def completions(counts: Counts, pending: int) -> list[Counts]:
    """Every way the pending upstreams can still finish."""
    out = []
    for outcome in itertools.combinations_with_replacement(range(4), pending):
        final = list(counts)
        for i in outcome:
            final[i] += 1
        out.append((final[0], final[1], final[2], final[3]))
    return out


@settings(max_examples=300, deadline=None)
@given(rule=st.sampled_from(list(TR)), counts=finished_counts, pending=st.integers(0, 3))
def test_rules_agree_with_their_definitions(
    rule: TriggerRule, counts: Counts, pending: int
) -> None:
    s, k, f, u = counts
    total = s + k + f + u + pending
    decision = evaluate_trigger_rule(
        rule, UpstreamSummary(total, success=s, skipped=k, failed=f, upstream_failed=u)
    )
    if total == 0:
        assert decision is RUN
        return
    runs = DEFINITIONS[rule]
    if pending == 0:
        # Once every upstream is done the rule is settled: never WAIT.
        assert decision is not WAIT
        assert (decision is RUN) == runs(*counts)
        return
    # Deciding early is only allowed when no way of finishing could change the answer.
    outcomes = {runs(*final) for final in completions(counts, pending)}
    if decision is RUN:
        assert outcomes == {True}
    elif decision is not WAIT:
        assert outcomes == {False}
