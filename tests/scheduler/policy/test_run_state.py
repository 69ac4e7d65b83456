"""DAG run completion, deadlock detection and dagrun_timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.domain import UNFINISHED, DagRunState, TaskInstanceState, TIState
from airflow_sc.scheduler.policy import (
    RunOutcome,
    RunStateDecision,
    RunTaskInstance,
    dagrun_timed_out,
    decide_run_state,
    effective_leaves,
)

S = TaskInstanceState
RUNNING = RunStateDecision(DagRunState.RUNNING)
SUCCEEDED = RunStateDecision(DagRunState.SUCCESS, RunOutcome.SUCCESS)
FAILED = RunStateDecision(DagRunState.FAILED, RunOutcome.TASK_FAILURE)
DEADLOCKED = RunStateDecision(DagRunState.FAILED, RunOutcome.ALL_TASKS_DEADLOCKED)


def leaf(state: TIState, task_id: str = "leaf", **kw: bool) -> RunTaskInstance:
    return RunTaskInstance(task_id, state, is_leaf=True, **kw)


def inner(state: TIState, task_id: str = "inner", **kw: bool) -> RunTaskInstance:
    return RunTaskInstance(task_id, state, **kw)


@pytest.mark.parametrize(
    ("tis", "expected"),
    [
        ([inner(S.SUCCESS), leaf(S.SUCCESS)], SUCCEEDED),
        ([inner(S.SUCCESS), leaf(S.SKIPPED)], SUCCEEDED),
        ([inner(S.SUCCESS), leaf(S.FAILED)], FAILED),
        ([inner(S.FAILED), leaf(S.UPSTREAM_FAILED)], FAILED),
        # A failure that a leaf with trigger rule all_done absorbed does not fail the run.
        ([inner(S.FAILED), leaf(S.SUCCESS)], SUCCEEDED),
        # A removed leaf does not count.
        ([leaf(S.REMOVED, "gone"), leaf(S.SUCCESS)], SUCCEEDED),
        ([], SUCCEEDED),
        # Anything unfinished keeps the run going ...
        ([inner(S.FAILED), leaf(S.RUNNING)], RUNNING),
        ([inner(S.SUCCESS), leaf(None)], RUNNING),
        ([inner(S.UP_FOR_RETRY), leaf(None, can_progress=False)], RUNNING),
        # ... unless nothing unfinished can ever progress.
        ([inner(S.SUCCESS), leaf(None, can_progress=False)], DEADLOCKED),
        ([leaf(S.SUCCESS, "a"), leaf(S.UP_FOR_RETRY, "b", can_progress=False)], DEADLOCKED),
        # Airflow never calls these deadlocked: another run or a trigger may unblock them.
        ([leaf(None, can_progress=False, exempt_from_deadlock=True)], RUNNING),
        ([inner(S.DEFERRED, can_progress=False), leaf(None, can_progress=False)], RUNNING),
    ],
)
def test_decide_run_state(tis: list[RunTaskInstance], expected: RunStateDecision) -> None:
    assert decide_run_state(tis) == expected


def test_a_pass_that_changed_something_is_not_a_deadlock_yet() -> None:
    stuck = [leaf(None, can_progress=False)]
    assert decide_run_state(stuck, progressed=True) == RUNNING
    assert decide_run_state(stuck).finished


@pytest.mark.parametrize(
    ("graph", "teardowns", "fail_dagrun", "expected"),
    [
        ({"a": {"b"}, "b": set()}, set(), set(), {"b"}),
        ({"a": {"b", "c"}, "b": set(), "c": set()}, set(), set(), {"b", "c"}),
        # work -> teardown: the teardown is ignored, so the work task decides.
        (
            {"setup": {"work"}, "work": {"teardown"}, "teardown": set()},
            {"teardown"},
            set(),
            {"work"},
        ),
        # ... unless the teardown has on_failure_fail_dagrun.
        (
            {"setup": {"work"}, "work": {"teardown"}, "teardown": set()},
            {"teardown"},
            {"teardown"},
            {"teardown"},
        ),
        # Only teardowns: fall back to the tasks without downstreams.
        ({"t1": {"t2"}, "t2": set()}, {"t1", "t2"}, set(), {"t2"}),
    ],
)
def test_effective_leaves(
    graph: dict[str, set[str]], teardowns: set[str], fail_dagrun: set[str], expected: set[str]
) -> None:
    assert (
        effective_leaves(graph, teardowns=teardowns, fail_dagrun_teardowns=fail_dagrun) == expected
    )


START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "timeout", "elapsed", "expected"),
    [
        (START, timedelta(hours=1), timedelta(minutes=59), False),
        (START, timedelta(hours=1), timedelta(hours=1), False),  # strictly longer
        (START, timedelta(hours=1), timedelta(hours=1, microseconds=1), True),
        (START, None, timedelta(days=9), False),
        (None, timedelta(hours=1), timedelta(days=9), False),  # never started
    ],
)
def test_dagrun_timeout(
    start: datetime | None, timeout: timedelta | None, elapsed: timedelta, expected: bool
) -> None:
    assert (
        dagrun_timed_out(start_date=start, dagrun_timeout=timeout, now=START + elapsed) is expected
    )


ALL_STATES: list[TIState] = [None, *S]

run_tis = st.lists(
    st.builds(
        RunTaskInstance,
        task_id=st.sampled_from(["a", "b", "c", "d"]),
        state=st.sampled_from(ALL_STATES),
        is_leaf=st.booleans(),
        can_progress=st.booleans(),
        exempt_from_deadlock=st.booleans(),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(tis=run_tis, progressed=st.booleans())
def test_a_run_finishes_only_when_every_task_instance_did_or_none_can_progress(
    tis: list[RunTaskInstance], progressed: bool
) -> None:
    decision = decide_run_state(tis, progressed=progressed)
    unfinished = [ti for ti in tis if ti.state in UNFINISHED]
    if not unfinished:
        assert decision.finished
    if decision.finished and unfinished:
        assert decision == DEADLOCKED
        assert not progressed
        assert not any(ti.can_progress or ti.exempt_from_deadlock for ti in unfinished)
        assert all(ti.state is not S.DEFERRED for ti in unfinished)
    assert decision.finished == (decision.state is not DagRunState.RUNNING)
