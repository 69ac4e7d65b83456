"""Which state changes are legal, who makes them, and why: the transition tables as data.

Each transition has one owner (`Actor`): the scheduler's stages, the execution service (a
try that reports moves itself), executor_events (a try whose process ended without
reporting), housekeeping, the triggerer, or a user's operator action. Every writer of a state
column checks its change against these tables in its pure step, before it writes:
`check_ti_transition` / `check_dag_run_transition` for a change it decided from a row it
read, `ti_sources` for the ``WHERE state IN (...)`` of a compare-and-set. Rewriting the state
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
    "ti_sources",
    "ti_transition_actors",
]


class Actor(StrEnum):
    """Who performs a state change: the one owner of each transition.

    docs/architecture.md prints the task instance table by actor.
    """

    #: The scheduler's stages: create_runs, start_runs, schedule_tis, enqueue.
    SCHEDULER = "scheduler"
    #: The execution service, serving a try's own process (over HTTP or the local
    #: channel) or the in-process executor: a try that reports moves itself.
    EXECUTION = "execution"
    #: The scheduler's executor_events stage: a try's process ended without reporting.
    EXECUTOR_EVENTS = "executor_events"
    #: The triggerer (not built yet): a deferred task's trigger fired or ended the task.
    TRIGGERER = "triggerer"
    #: The scheduler's housekeeping: zombies, stuck-in-queued, orphans, trigger timeouts.
    HOUSEKEEPING = "housekeeping"
    #: Operator actions (REST API, UI, CLI): mark state, clear.
    USER = "user"


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
_S, _X, _E = Actor.SCHEDULER, Actor.EXECUTION, Actor.EXECUTOR_EVENTS
_T, _H, _U = Actor.TRIGGERER, Actor.HOUSEKEEPING, Actor.USER
#: Task instances a branch's skip list may still skip (they have not started).
_NOT_STARTED = {None, TI.SCHEDULED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE}

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
        {None, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE},
        {TI.SUCCESS},
        _S,
        "an EmptyOperator whose trigger rule is met succeeds without running",
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
    _rule(
        UNFINISHED,
        {TI.SKIPPED},
        _S,
        "dagrun_timeout expired, or fail_fast after a failure: unfinished task instances skip",
    ),
    _rule({TI.RUNNING}, {TI.FAILED}, _S, "fail_fast after a failure: running task instances fail"),
    # enqueue
    _rule({TI.SCHEDULED}, {TI.QUEUED}, _S, "admitted within pools and concurrency limits"),
    _rule(
        {TI.SCHEDULED},
        {TI.FAILED},
        _S,
        "its DAG version names an executor this deployment does not run",
    ),
    # the execution service: the try's own process reports
    _rule({TI.QUEUED}, {TI.RUNNING}, _X, "the try's process started it (compare-and-set)"),
    _rule(
        {TI.RUNNING},
        {TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE, TI.DEFERRED},
        _X,
        "the try finished, failed, skipped itself, asked to be rescheduled or deferred",
    ),
    _rule(_NOT_STARTED, {TI.SKIPPED}, _X, "a finishing branch skips the paths it did not take"),
    # executor_events: the process ended without reporting
    _rule(
        {TI.QUEUED, TI.RUNNING},
        {TI.FAILED, TI.UP_FOR_RETRY},
        _E,
        "the try's process ended without reporting (crash, kill, timeout, never started)",
    ),
    _rule({TI.RESTARTING}, {None}, _E, "cleared while in flight: its process ended, run again"),
    # triggerer
    _rule({TI.DEFERRED}, {TI.SCHEDULED}, _T, "trigger fired: resume the task on a worker"),
    _rule({TI.DEFERRED}, {TI.SUCCESS, TI.FAILED, TI.SKIPPED}, _T, "trigger ended the task itself"),
    # housekeeping
    _rule({TI.QUEUED}, {TI.SCHEDULED}, _H, "stuck in queued: requeue"),
    _rule({TI.QUEUED}, {TI.FAILED}, _H, "stuck in queued too many times"),
    _rule({TI.RUNNING}, {TI.FAILED, TI.UP_FOR_RETRY}, _H, "no heartbeat (zombie task instance)"),
    _rule(
        {TI.QUEUED, TI.RUNNING, TI.RESTARTING},
        {None},
        _H,
        "orphan of a dead scheduler and its executors: reset",
    ),
    _rule({TI.DEFERRED}, {TI.SCHEDULED}, _H, "trigger timeout: resume on a worker to fail it"),
    # users
    _rule(_ALL_TI, {TI.SUCCESS, TI.FAILED, TI.SKIPPED}, _U, "mark success / failed / skipped"),
    _rule(_ALL_TI - {TI.QUEUED, TI.RUNNING}, {None}, _U, "clear: run it again"),
    _rule(
        {TI.QUEUED, TI.RUNNING},
        {TI.RESTARTING},
        _U,
        "clear while in flight: stop the try, then run it again",
    ),
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
    _dr_rule(
        {_DR.SUCCESS, _DR.FAILED},
        {_DR.RUNNING},
        _U,
        "mark one of its task instances: the scheduler decides the run's state again",
    ),
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


def _actors(rules: Iterable[Transition[S]]) -> Mapping[tuple[S, S], frozenset[Actor]]:
    by_move: dict[tuple[S, S], set[Actor]] = {}
    for rule in rules:
        for old in rule.old:
            for new in rule.new - {old}:
                by_move.setdefault((old, new), set()).add(rule.actor)
    return MappingProxyType({move: frozenset(actors) for move, actors in by_move.items()})


_TI_ACTORS = _actors(TI_TRANSITION_RULES)
_DAG_RUN_ACTORS = _actors(DAG_RUN_TRANSITION_RULES)


def ti_transition_actors(old: TIState, new: TIState) -> frozenset[Actor]:
    """The actors allowed to move a task instance from ``old`` to ``new`` (empty: nobody)."""
    return _TI_ACTORS.get((old, new), frozenset())


def ti_sources(actor: Actor, new: TIState, among: Iterable[TIState]) -> frozenset[TIState]:
    """The states of `among` that `actor` may move to `new`.

    A writer that moves rows with a compare-and-set (``UPDATE ... WHERE state IN (...)``)
    takes the states of its ``WHERE`` from here, so the table decides what it may move.
    `new` itself is never a source: a compare-and-set must not move a row twice.
    """
    return frozenset(old for old in among if actor in ti_transition_actors(old, new))


def check_ti_transition(old: TIState, new: TIState, *, actor: Actor | None = None) -> None:
    """Raise `IllegalTransition` unless ``old -> new`` is allowed (for ``actor``, if given)."""
    if old == new:
        return
    allowed = _TI_ACTORS.get((old, new))
    if not allowed or (actor is not None and actor not in allowed):
        raise IllegalTransition("task instance", old, new, actor)


def check_dag_run_transition(
    old: DagRunState, new: DagRunState, *, actor: Actor | None = None
) -> None:
    """Raise `IllegalTransition` unless ``old -> new`` is allowed (for ``actor``, if given)."""
    if old == new:
        return
    allowed = _DAG_RUN_ACTORS.get((old, new))
    if not allowed or (actor is not None and actor not in allowed):
        raise IllegalTransition("DAG run", old, new, actor)
