"""Which state changes are legal, who makes them, and why: the transition tables as data.

Every writer of a state column (a scheduler stage, the execution API serving workers, the
triggerer, housekeeping, a user through the REST API) checks its change against these tables
with `check_ti_transition` / `check_dag_run_transition` before it writes. Rewriting the state
a row already has is not a transition and is always allowed (writes stay idempotent).

The rows mirror Apache Airflow 3: where Airflow moves a state, so does airflow-sc, and the
``why`` of each row names the Airflow behaviour it stands for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, TypeVar

from airflow_sc.domain.states import FINISHED, UNFINISHED, DagRunState, TIState
from airflow_sc.domain.states import TaskInstanceState as TI

S = TypeVar("S")

__all__ = [
    "DAG_RUN_TRANSITIONS",
    "DAG_RUN_TRANSITION_RULES",
    "TI_TRANSITIONS",
    "TI_TRANSITION_RULES",
    "Actor",
    "IllegalTransition",
    "Transition",
    "check_dag_run_transition",
    "check_ti_transition",
    "ti_transition_actors",
]


class Actor(StrEnum):
    """Who performs a state change."""

    SCHEDULER = "scheduler"  # the scheduler's stages: create/start runs, schedule_tis, enqueue
    WORKER = "worker"  # a task's own process, through the execution API or executor events
    TRIGGERER = "triggerer"  # a deferred task's trigger fired or ended the task
    HOUSEKEEPING = "housekeeping"  # heartbeats, zombies, stuck-queued, orphans, trigger timeouts
    USER = "user"  # REST API / UI / CLI: mark state, clear


class IllegalTransition(ValueError):
    """A state change that no actor (or not the named actor) may perform."""

    def __init__(self, kind: str, old: object, new: object, actor: Actor | None) -> None:
        by = f" by {actor.value}" if actor is not None else ""
        super().__init__(f"illegal {kind} transition {old!s} -> {new!s}{by}")
        self.old = old
        self.new = new
        self.actor = actor


@dataclass(frozen=True, slots=True)
class Transition(Generic[S]):
    """One documented rule: ``actor`` may move any state in ``old`` to any state in ``new``."""

    old: frozenset[S]
    new: frozenset[S]
    actor: Actor
    why: str


def _rule(
    old: Iterable[TIState], new: Iterable[TIState], actor: Actor, why: str
) -> Transition[TIState]:
    return Transition(frozenset(old), frozenset(new), actor, why)


_ALL_TI: frozenset[TIState] = FINISHED | UNFINISHED
_S, _W, _T, _H, _U = Actor.SCHEDULER, Actor.WORKER, Actor.TRIGGERER, Actor.HOUSEKEEPING, Actor.USER

TI_TRANSITION_RULES: tuple[Transition[TIState], ...] = (
    # schedule_tis: trigger rules decide a task instance that has no state yet, or whose
    # retry / reschedule period is over.
    _rule(
        {None, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE},
        {TI.SCHEDULED, TI.SKIPPED, TI.UPSTREAM_FAILED},
        _S,
        "trigger rule met (scheduled) or impossible (skipped / upstream_failed)",
    ),
    _rule(
        {None}, {TI.REMOVED}, _S, "mapped index beyond the expanded length, or task left the DAG"
    ),
    _rule(
        {TI.SCHEDULED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE},
        {TI.REMOVED},
        _S,
        "task left the DAG before it ran (DAG run integrity check)",
    ),
    _rule({TI.REMOVED}, {None}, _S, "task came back into the DAG (DAG run integrity check)"),
    _rule(UNFINISHED, {TI.SKIPPED}, _S, "dagrun_timeout expired: unfinished task instances skip"),
    # enqueue
    _rule({TI.SCHEDULED}, {TI.QUEUED}, _S, "admitted within pools and concurrency limits"),
    _rule({TI.SCHEDULED, TI.QUEUED}, {None}, _S, "its DAG run finished before it was sent"),
    # the task's own process (execution API) and executor events
    _rule({TI.QUEUED}, {TI.RUNNING}, _W, "worker started the task"),
    _rule(
        {TI.RUNNING},
        {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE, TI.DEFERRED},
        _W,
        "task finished, failed, skipped itself, asked to be rescheduled or deferred",
    ),
    _rule(
        {TI.QUEUED}, {TI.FAILED, TI.UP_FOR_RETRY}, _W, "executor reports the task failed to start"
    ),
    _rule(
        {TI.RESTARTING}, {TI.UP_FOR_RETRY, TI.FAILED}, _W, "cleared while running: process ended"
    ),
    # triggerer
    _rule({TI.DEFERRED}, {TI.SCHEDULED}, _T, "trigger fired: resume the task on a worker"),
    _rule({TI.DEFERRED}, {TI.SUCCESS, TI.FAILED, TI.SKIPPED}, _T, "trigger ended the task itself"),
    # housekeeping
    _rule({TI.QUEUED}, {TI.SCHEDULED}, _H, "stuck in queued: requeue"),
    _rule({TI.QUEUED}, {TI.FAILED, TI.UP_FOR_RETRY}, _H, "stuck in queued too many times"),
    _rule({TI.RUNNING}, {TI.FAILED, TI.UP_FOR_RETRY}, _H, "no heartbeat (zombie task instance)"),
    _rule({TI.QUEUED, TI.RUNNING}, {None}, _H, "orphan of a dead scheduler or executor: reset"),
    _rule({TI.DEFERRED}, {TI.SCHEDULED}, _H, "trigger timeout: resume on a worker to fail it"),
    _rule({TI.RESTARTING}, {TI.UP_FOR_RETRY}, _H, "cleared while running: its process is gone"),
    # users
    _rule(_ALL_TI, {TI.SUCCESS, TI.FAILED, TI.SKIPPED}, _U, "mark success / failed / skipped"),
    _rule(_ALL_TI - {TI.RUNNING}, {None}, _U, "clear: run it again"),
    _rule({TI.RUNNING}, {TI.RESTARTING}, _U, "clear while running: kill, then retry"),
)


def _dr_rule(
    old: Iterable[DagRunState], new: Iterable[DagRunState], actor: Actor, why: str
) -> Transition[DagRunState]:
    return Transition(frozenset(old), frozenset(new), actor, why)


_DR = DagRunState
DAG_RUN_TRANSITION_RULES: tuple[Transition[DagRunState], ...] = (
    _dr_rule({_DR.QUEUED}, {_DR.RUNNING}, _S, "start_runs: within max_active_runs"),
    _dr_rule({_DR.RUNNING}, {_DR.SUCCESS, _DR.FAILED}, _S, "all leaves done, deadlock or timeout"),
    _dr_rule(set(_DR), {_DR.SUCCESS, _DR.FAILED}, _U, "mark the run success / failed"),
    _dr_rule(set(_DR), {_DR.QUEUED}, _U, "clear the run: it is scheduled again"),
)


def _table(rules: Iterable[Transition[S]]) -> Mapping[S, frozenset[S]]:
    table: dict[S, set[S]] = {}
    for rule in rules:
        for old in rule.old:
            table.setdefault(old, set()).update(rule.new - {old})
    return MappingProxyType({old: frozenset(new) for old, new in table.items()})


TI_TRANSITIONS: Mapping[TIState, frozenset[TIState]] = _table(TI_TRANSITION_RULES)
"""For each task instance state, the states some actor may move it to."""

DAG_RUN_TRANSITIONS: Mapping[DagRunState, frozenset[DagRunState]] = _table(DAG_RUN_TRANSITION_RULES)
"""For each DAG run state, the states some actor may move it to."""


def ti_transition_actors(old: TIState, new: TIState) -> frozenset[Actor]:
    """The actors allowed to move a task instance from ``old`` to ``new`` (empty: nobody)."""
    return frozenset(r.actor for r in TI_TRANSITION_RULES if old in r.old and new in r.new)


def check_ti_transition(old: TIState, new: TIState, *, actor: Actor | None = None) -> None:
    """Raise `IllegalTransition` unless ``old -> new`` is allowed (for ``actor``, if given)."""
    if old == new:
        return
    allowed = ti_transition_actors(old, new)
    if not allowed or (actor is not None and actor not in allowed):
        raise IllegalTransition("task instance", old, new, actor)


def check_dag_run_transition(
    old: DagRunState, new: DagRunState, *, actor: Actor | None = None
) -> None:
    """Raise `IllegalTransition` unless ``old -> new`` is allowed (for ``actor``, if given)."""
    if old == new:
        return
    allowed = {r.actor for r in DAG_RUN_TRANSITION_RULES if old in r.old and new in r.new}
    if not allowed or (actor is not None and actor not in allowed):
        raise IllegalTransition("DAG run", old, new, actor)
