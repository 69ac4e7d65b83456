"""States and the transition tables: the rules every state writer checks against."""

from __future__ import annotations

import pytest

from airflow_sc.domain import (
    DAG_RUN_TRANSITIONS,
    FINISHED,
    TI_TRANSITIONS,
    UNFINISHED,
    Actor,
    DagRunState,
    IllegalTransition,
    TaskInstanceState,
    TIState,
    check_dag_run_transition,
    check_ti_transition,
    is_finished,
    ti_sources,
)
from airflow_sc.domain.transitions import TI_TRANSITION_RULES

TI = TaskInstanceState
ALL_TI_STATES: set[TIState] = {None, *TI}


def test_state_strings_are_airflows() -> None:
    assert {s.value for s in TI} == {
        "scheduled",
        "queued",
        "running",
        "success",
        "failed",
        "up_for_retry",
        "up_for_reschedule",
        "upstream_failed",
        "skipped",
        "removed",
        "deferred",
        "restarting",
    }
    assert {s.value for s in DagRunState} == {"queued", "running", "success", "failed"}
    assert TI("up_for_retry") is TI.UP_FOR_RETRY


def test_finished_and_unfinished_partition_every_state() -> None:
    assert FINISHED | UNFINISHED == ALL_TI_STATES
    assert not FINISHED & UNFINISHED
    assert not is_finished(None)
    assert is_finished(TI.UPSTREAM_FAILED)


@pytest.mark.parametrize(
    ("old", "new", "actor"),
    [
        (None, TI.SCHEDULED, Actor.SCHEDULER),
        (None, TI.SKIPPED, Actor.SCHEDULER),
        (None, TI.UPSTREAM_FAILED, Actor.SCHEDULER),
        (TI.UP_FOR_RETRY, TI.SCHEDULED, Actor.SCHEDULER),
        (TI.UP_FOR_RESCHEDULE, TI.SCHEDULED, Actor.SCHEDULER),
        (TI.SCHEDULED, TI.QUEUED, Actor.SCHEDULER),
        (TI.QUEUED, TI.RUNNING, Actor.EXECUTION),
        (TI.RUNNING, TI.SUCCESS, Actor.EXECUTION),
        (TI.RUNNING, TI.UP_FOR_RETRY, Actor.EXECUTION),
        (TI.RUNNING, TI.DEFERRED, Actor.EXECUTION),
        (TI.DEFERRED, TI.SCHEDULED, Actor.TRIGGERER),
        (TI.RUNNING, TI.FAILED, Actor.HOUSEKEEPING),
        (TI.QUEUED, TI.SCHEDULED, Actor.HOUSEKEEPING),
        (TI.RUNNING, None, Actor.HOUSEKEEPING),
        (TI.SUCCESS, None, Actor.USER),
        (TI.FAILED, TI.SUCCESS, Actor.USER),
        (TI.RUNNING, TI.RESTARTING, Actor.USER),
        (TI.RESTARTING, None, Actor.EXECUTOR_EVENTS),
        (TI.RUNNING, TI.UP_FOR_RETRY, Actor.EXECUTOR_EVENTS),
        (TI.QUEUED, TI.FAILED, Actor.EXECUTOR_EVENTS),
        (None, TI.SKIPPED, Actor.EXECUTION),  # a branch not taken
        (TI.QUEUED, TI.RESTARTING, Actor.USER),
        (TI.RUNNING, TI.SKIPPED, Actor.SCHEDULER),  # dagrun_timeout
    ],
)
def test_allowed_ti_transitions(old: TIState, new: TIState, actor: Actor) -> None:
    check_ti_transition(old, new)
    check_ti_transition(old, new, actor=actor)
    assert new in TI_TRANSITIONS[old]


@pytest.mark.parametrize(
    ("old", "new", "actor"),
    [
        (None, TI.RUNNING, None),  # must be scheduled and queued first
        (None, TI.QUEUED, None),
        (TI.SUCCESS, TI.RUNNING, None),
        (TI.FAILED, TI.UP_FOR_RETRY, None),
        (TI.SKIPPED, TI.SCHEDULED, None),
        (TI.SCHEDULED, TI.QUEUED, Actor.EXECUTION),  # only enqueue queues
        # An executor's event never writes what a try reported, nor that it started.
        (TI.RUNNING, TI.SUCCESS, Actor.EXECUTOR_EVENTS),
        (TI.QUEUED, TI.RUNNING, Actor.EXECUTOR_EVENTS),
        (TI.RUNNING, TI.QUEUED, None),
        (TI.RESTARTING, TI.UP_FOR_RETRY, Actor.EXECUTION),  # a cleared try cannot report
        (TI.RUNNING, TI.SUCCESS, Actor.SCHEDULER),  # only the task reports its result
        (TI.RUNNING, None, Actor.USER),  # clearing a running instance restarts it
        (TI.QUEUED, TI.RUNNING, Actor.SCHEDULER),
    ],
)
def test_illegal_ti_transitions_raise(old: TIState, new: TIState, actor: Actor | None) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_ti_transition(old, new, actor=actor)
    assert info.value.old == old
    assert info.value.new == new


def test_compare_and_set_sources_come_from_the_table() -> None:
    every: list[TIState] = [None, *TI]
    assert ti_sources(Actor.EXECUTION, TI.RUNNING, every) == {TI.QUEUED}
    assert ti_sources(Actor.EXECUTION, TI.SKIPPED, every) == {
        None,
        TI.SCHEDULED,
        TI.UP_FOR_RETRY,
        TI.UP_FOR_RESCHEDULE,
        TI.RUNNING,
    }
    assert ti_sources(Actor.EXECUTOR_EVENTS, TI.FAILED, every) == {TI.QUEUED, TI.RUNNING}
    assert ti_sources(Actor.SCHEDULER, TI.QUEUED, every) == {TI.SCHEDULED}


def test_every_actor_owns_at_least_one_rule_and_every_rule_says_why() -> None:
    assert {rule.actor for rule in TI_TRANSITION_RULES} == set(Actor)
    assert all(rule.why for rule in TI_TRANSITION_RULES)


def test_rewriting_the_same_state_is_not_a_transition() -> None:
    for state in ALL_TI_STATES:
        check_ti_transition(state, state, actor=Actor.EXECUTION)
    for dr_state in DagRunState:
        check_dag_run_transition(dr_state, dr_state)


def test_every_state_is_reachable_from_none_and_can_be_left() -> None:
    reached: set[TIState] = {None}
    frontier: list[TIState] = [None]
    while frontier:
        for new in TI_TRANSITIONS.get(frontier.pop(), frozenset()):
            if new not in reached:
                reached.add(new)
                frontier.append(new)
    assert reached == ALL_TI_STATES
    assert set(TI_TRANSITIONS) == ALL_TI_STATES


def test_happy_path_without_users_is_legal() -> None:
    path: list[tuple[TIState, Actor]] = [
        (TI.SCHEDULED, Actor.SCHEDULER),
        (TI.QUEUED, Actor.SCHEDULER),
        (TI.RUNNING, Actor.EXECUTION),
        (TI.UP_FOR_RETRY, Actor.EXECUTION),
        (TI.SCHEDULED, Actor.SCHEDULER),
        (TI.QUEUED, Actor.SCHEDULER),
        (TI.RUNNING, Actor.EXECUTION),
        (TI.DEFERRED, Actor.EXECUTION),
        (TI.SCHEDULED, Actor.TRIGGERER),
        (TI.QUEUED, Actor.SCHEDULER),
        (TI.RUNNING, Actor.EXECUTION),
        (TI.SUCCESS, Actor.EXECUTION),
    ]
    state: TIState = None
    for new, actor in path:
        check_ti_transition(state, new, actor=actor)
        state = new


@pytest.mark.parametrize(
    ("old", "new", "actor", "allowed"),
    [
        (DagRunState.QUEUED, DagRunState.RUNNING, Actor.SCHEDULER, True),
        (DagRunState.RUNNING, DagRunState.SUCCESS, Actor.SCHEDULER, True),
        (DagRunState.RUNNING, DagRunState.FAILED, Actor.SCHEDULER, True),
        (DagRunState.SUCCESS, DagRunState.QUEUED, Actor.USER, True),
        (DagRunState.FAILED, DagRunState.SUCCESS, Actor.USER, True),
        (DagRunState.QUEUED, DagRunState.SUCCESS, Actor.SCHEDULER, False),
        (DagRunState.SUCCESS, DagRunState.RUNNING, Actor.SCHEDULER, False),
        # Marking a task instance of a finished run: its state is decided again.
        (DagRunState.FAILED, DagRunState.RUNNING, Actor.USER, True),
        (DagRunState.FAILED, DagRunState.RUNNING, Actor.SCHEDULER, False),
        (DagRunState.SUCCESS, DagRunState.QUEUED, Actor.SCHEDULER, False),
    ],
)
def test_dag_run_transitions(
    old: DagRunState, new: DagRunState, actor: Actor, allowed: bool
) -> None:
    if allowed:
        check_dag_run_transition(old, new, actor=actor)
        assert new in DAG_RUN_TRANSITIONS[old]
    else:
        with pytest.raises(IllegalTransition, match="DAG run"):
            check_dag_run_transition(old, new, actor=actor)
