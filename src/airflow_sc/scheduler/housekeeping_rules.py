"""What housekeeping decides, as pure functions of rows already read (no I/O, no loop).

Four rules, after Airflow 3's scheduler:

- **orphans**: a task instance queued, running or restarting under a scheduler job that is
  no longer alive (its row is not `running`, or its heartbeat is older than the heartbeat timeout)
  is reset to no state, so a live scheduler schedules it again; the dead job is marked
  `failed`. Its executor went with it, so nothing can adopt the task.
- **zombies**: a running task instance (queued by this scheduler) whose last heartbeat
  (or, before the first one, its start) is older than the heartbeat timeout failed:
  `up_for_retry` while tries remain, else `failed`.
- **stuck in queued**: a task instance this scheduler queued that has not started within
  `task_queued_timeout` goes back to `scheduled`, at most `max_stuck_requeues` times for
  one try; after that it is `failed`.
- **trigger timeouts**: a deferred task instance past its `trigger_timeout` is resumed on a
  worker (`scheduled`) with `next_method="__fail__"`, where it fails (and is retried) like
  any task failure.

Silence is evidence only while the database could hear it. During a database outage no
heartbeat can be written, so a heartbeat's age then says nothing about the task or the job
behind it. After an outage, a rule that judges silence longer than a timeout waits until
the database has been reachable for that long again (`silence_is_evidence`): every live
task and job has had the whole timeout to beat since. The orphans rule then still resets
the task instances of jobs that are closed, but declares no running job dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from airflow_sc.domain.retries import failed_try_state
from airflow_sc.domain.states import TaskInstanceState as TI
from airflow_sc.domain.states import TIState
from airflow_sc.domain.transitions import Actor, check_ti_transition

__all__ = [
    "DEFAULT_MAX_STUCK_REQUEUES",
    "EVENT_HEARTBEAT_TIMEOUT",
    "EVENT_ORPHAN_RESET",
    "EVENT_STUCK_EXCEEDED",
    "EVENT_STUCK_REQUEUED",
    "EVENT_TRIGGER_TIMEOUT",
    "FAIL_METHOD",
    "Decision",
    "HousekeepingLimits",
    "TaskRow",
    "decide_orphan",
    "decide_stuck_in_queued",
    "decide_trigger_timeout",
    "decide_zombie",
    "is_job_alive",
    "is_stuck_in_queued",
    "is_zombie",
    "silence_is_evidence",
    "trigger_timed_out",
]

#: Requeues of one try before a task stuck in queued fails (Airflow's default, 2).
DEFAULT_MAX_STUCK_REQUEUES: Final = 2
#: `next_method` that makes a resumed task fail at once on its worker (Airflow's name).
FAIL_METHOD: Final = "__fail__"

# Audit-log (`log.event`) names; the stuck-in-queued ones are Airflow's, and the count of
# EVENT_STUCK_REQUEUED rows for a try is how many times it was requeued.
EVENT_HEARTBEAT_TIMEOUT: Final = "heartbeat timeout"
EVENT_STUCK_REQUEUED: Final = "stuck in queued reschedule"
EVENT_STUCK_EXCEEDED: Final = "stuck in queued tries exceeded"
EVENT_ORPHAN_RESET: Final = "orphan reset"
EVENT_TRIGGER_TIMEOUT: Final = "trigger timeout"


def silence_is_evidence(seconds_since_recovery: float | None, timeout: float) -> bool:
    """Whether silence longer than `timeout` may be judged now: the database has been
    reachable for at least `timeout` seconds since its latest outage (or this process saw
    none; `seconds_since_recovery` is None then, and 0 during an outage)."""
    return seconds_since_recovery is None or seconds_since_recovery >= timeout


@dataclass(frozen=True, slots=True)
class HousekeepingLimits:
    """The timeouts housekeeping enforces, in seconds."""

    #: A task instance or scheduler job silent for longer is presumed dead.
    heartbeat_timeout: float = 60.0
    #: A task instance queued for longer without starting is stuck.
    task_queued_timeout: float = 600.0
    #: Requeues of one try before a stuck task instance fails.
    max_stuck_requeues: int = DEFAULT_MAX_STUCK_REQUEUES
    #: Seconds between passes (besides wake-ups).
    interval: float = 5.0

    def __post_init__(self) -> None:
        if self.heartbeat_timeout <= 0 or self.task_queued_timeout <= 0 or self.interval <= 0:
            raise ValueError("housekeeping timeouts and interval must be positive")
        if self.max_stuck_requeues < 0:
            raise ValueError("max_stuck_requeues must be >= 0")


@dataclass(frozen=True, slots=True)
class TaskRow:
    """The columns of one task instance that housekeeping reads."""

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: TIState
    try_number: int
    max_tries: int
    run_pk: int
    executor: str | None = None
    queued_by_job_id: int | None = None
    start_date: datetime | None = None
    queued_dttm: datetime | None = None
    last_heartbeat_at: datetime | None = None
    trigger_timeout: datetime | None = None
    #: How many times this try was already requeued after being stuck in queued.
    requeues: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """One task instance's change: its new state, the columns to write, why."""

    ti: TaskRow
    new_state: TIState
    event: str
    reason: str
    values: dict[str, Any]
    #: Copy the finished try into task_instance_history before changing the row.
    record_history: bool = False
    #: Ask the executor to stop whatever it still runs for this try.
    terminate: bool = False


def _decision(
    ti: TaskRow,
    new_state: TIState,
    event: str,
    reason: str,
    values: dict[str, Any],
    *,
    record_history: bool = False,
    terminate: bool = False,
) -> Decision:
    check_ti_transition(ti.state, new_state, actor=Actor.HOUSEKEEPING)
    return Decision(ti, new_state, event, reason, values, record_history, terminate)


def is_job_alive(
    state: str | None, latest_heartbeat: datetime | None, *, now: datetime, timeout: float
) -> bool:
    """A job is alive while its row says `running` and its heartbeat is recent."""
    if state != "running" or latest_heartbeat is None:
        return False
    return now - latest_heartbeat <= timedelta(seconds=timeout)


def decide_orphan(ti: TaskRow, *, now: datetime) -> Decision:
    """Reset a task instance whose scheduler died: no state, no owner, scheduled again."""
    owner = ti.queued_by_job_id
    return _decision(
        ti,
        None,
        EVENT_ORPHAN_RESET,
        f"the scheduler job {owner} that queued it stopped heartbeating; "
        "reset so that a live scheduler runs it again",
        {
            "state": None,
            "queued_by_job_id": None,
            "queued_dttm": None,
            "external_executor_id": None,
            "updated_at": now,
        },
    )


def is_zombie(ti: TaskRow, *, now: datetime, timeout: float) -> bool:
    """A running task instance silent for longer than `timeout` seconds."""
    if ti.state != TI.RUNNING:
        return False
    # The latest sign of life: a heartbeat left over from an earlier try (the column is
    # not reset when a try is queued) must not make a try that just started a zombie.
    seen = [t for t in (ti.last_heartbeat_at, ti.start_date, ti.queued_dttm) if t is not None]
    return bool(seen) and now - max(seen) > timedelta(seconds=timeout)


def decide_zombie(ti: TaskRow, *, now: datetime, timeout: float) -> Decision:
    """A zombie's try failed: retry it while tries remain, else fail it."""
    new_state = failed_try_state(ti.try_number, ti.max_tries)
    if ti.last_heartbeat_at is None:
        silent = f"sent no heartbeat within {timeout:g}s of starting"
    else:
        silent = f"sent no heartbeat for more than {timeout:g}s"
    duration = None if ti.start_date is None else (now - ti.start_date).total_seconds()
    return _decision(
        ti,
        new_state,
        EVENT_HEARTBEAT_TIMEOUT,
        f"try {ti.try_number} {silent}: its process is presumed dead ({new_state.value})",
        {"state": new_state, "end_date": now, "duration": duration, "updated_at": now},
        record_history=True,
        terminate=True,
    )


def is_stuck_in_queued(ti: TaskRow, *, now: datetime, timeout: float) -> bool:
    if ti.state != TI.QUEUED or ti.queued_dttm is None:
        return False
    return now - ti.queued_dttm > timedelta(seconds=timeout)


def decide_stuck_in_queued(
    ti: TaskRow, *, now: datetime, timeout: float, max_requeues: int
) -> Decision:
    """Requeue a task instance stuck in queued, or fail it once it used up its requeues.

    A requeue gives the try back (the enqueue stage counts it again), so a task that never
    started does not lose a retry to its executor's trouble.
    """
    if ti.requeues < max_requeues:
        return _decision(
            ti,
            TI.SCHEDULED,
            EVENT_STUCK_REQUEUED,
            f"queued for more than {timeout:g}s without starting; "
            f"requeued ({ti.requeues + 1} of {max_requeues})",
            {
                "state": TI.SCHEDULED,
                "try_number": max(ti.try_number - 1, 0),
                "queued_dttm": None,
                "queued_by_job_id": None,
                "external_executor_id": None,
                "updated_at": now,
            },
            terminate=True,
        )
    return _decision(
        ti,
        TI.FAILED,
        EVENT_STUCK_EXCEEDED,
        f"queued for more than {timeout:g}s without starting, "
        f"after {max_requeues} requeue(s): failed",
        {"state": TI.FAILED, "end_date": now, "updated_at": now},
        record_history=True,
        terminate=True,
    )


def decide_trigger_timeout(ti: TaskRow, *, now: datetime) -> Decision:
    """Resume a deferred task instance whose trigger ran out of time, so that it fails."""
    return _decision(
        ti,
        TI.SCHEDULED,
        EVENT_TRIGGER_TIMEOUT,
        "its trigger did not fire before the trigger timeout; resumed to fail",
        {
            "state": TI.SCHEDULED,
            "trigger_id": None,
            "trigger_timeout": None,
            "next_method": FAIL_METHOD,
            "next_kwargs": {"error": "Trigger/execution timeout"},
            "updated_at": now,
        },
    )


def trigger_timed_out(ti: TaskRow, *, now: datetime) -> bool:
    return ti.state == TI.DEFERRED and ti.trigger_timeout is not None and ti.trigger_timeout < now
