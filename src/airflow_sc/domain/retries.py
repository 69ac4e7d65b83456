"""Retries: whether a failed try gets another one, and when it may start.

The one retry rule of airflow-sc: every writer that ends a failed try (the task runner
reporting through the execution service, the scheduler's executor_events for a process that
ended without reporting, housekeeping for a zombie) decides between ``up_for_retry`` and
``failed`` with `failed_try_state`.

Airflow 3 semantics. ``try_number`` is the try that just failed (1 for the first), and
``max_tries`` is the task instance's column (``retries`` when created, raised on clear).
With exponential backoff the delay of try ``n`` lies in
``[base * 2**(n-1), 2 * base * 2**(n-1))`` seconds (base rounded up, at least 1 s); where in
that range is fixed per task instance and try by `retry_jitter_hash`, so that instances
failing together do not retry together, yet a re-computation gives the same answer. The
result is capped by ``max_task_retry_delay`` (Airflow's ``[core] max_task_retry_delay``,
one day by default) and then by the task's own ``max_retry_delay``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from airflow_sc.domain.states import TaskInstanceState

__all__ = [
    "DEFAULT_MAX_TASK_RETRY_DELAY",
    "failed_try_state",
    "next_retry_at",
    "policy_retry_delay",
    "retry_delay_for",
    "retry_jitter_hash",
    "should_retry",
]

DEFAULT_MAX_TASK_RETRY_DELAY = timedelta(days=1)


def retry_jitter_hash(
    dag_id: str, task_id: str, logical_date: datetime | None, try_number: int
) -> int:
    """The deterministic per-instance, per-try number Airflow derives its backoff jitter from."""
    stamp = "None" if logical_date is None else logical_date.isoformat()
    digest = hashlib.sha1(
        f"{dag_id}#{task_id}#{stamp}#{try_number}".encode(), usedforsecurity=False
    )
    return int(digest.hexdigest(), 16)


def retry_delay_for(
    *,
    try_number: int,
    retry_delay: timedelta,
    retry_exponential_backoff: bool,
    max_retry_delay: timedelta | None,
    ti_key_hash: int,
    max_task_retry_delay: timedelta = DEFAULT_MAX_TASK_RETRY_DELAY,
) -> timedelta:
    """How long after the failed try ended the next try may start."""
    if not retry_exponential_backoff:
        return retry_delay
    # Rounded up so a sub-second base still grows; at least 1 s so the modulo is defined.
    min_backoff = max(1, math.ceil(retry_delay.total_seconds() * 2 ** (try_number - 1)))
    seconds = min(min_backoff + ti_key_hash % min_backoff, max_task_retry_delay.total_seconds())
    delay = timedelta(seconds=seconds)
    if max_retry_delay:  # None or zero: no per-task cap, like Airflow
        delay = min(delay, max_retry_delay)
    return delay


def next_retry_at(
    *,
    try_number: int,
    retry_delay: timedelta,
    retry_exponential_backoff: bool,
    max_retry_delay: timedelta | None,
    end_date: datetime,
    ti_key_hash: int,
    max_task_retry_delay: timedelta = DEFAULT_MAX_TASK_RETRY_DELAY,
) -> datetime:
    """When an up_for_retry task instance becomes ready again (ready strictly after this)."""
    return end_date + retry_delay_for(
        try_number=try_number,
        retry_delay=retry_delay,
        retry_exponential_backoff=retry_exponential_backoff,
        max_retry_delay=max_retry_delay,
        ti_key_hash=ti_key_hash,
        max_task_retry_delay=max_task_retry_delay,
    )


def policy_retry_delay(delay: timedelta | None) -> float | None:
    """A retry policy's chosen delay as seconds for the execution API: None when it chose
    none; negative delays count as none (0 s), and at most ``DEFAULT_MAX_TASK_RETRY_DELAY``
    (Airflow's cap on every retry delay)."""
    if delay is None:
        return None
    if not isinstance(delay, timedelta):
        raise TypeError(f"a retry delay is a timedelta, not {type(delay).__name__}")
    seconds = delay.total_seconds()
    return min(max(seconds, 0.0), DEFAULT_MAX_TASK_RETRY_DELAY.total_seconds())


def should_retry(try_number: int, max_tries: int, *, retries: int | None = None) -> bool:
    """Whether the failed try ``try_number`` goes to up_for_retry rather than failed.

    ``retries`` is the task's current setting when known: a task whose DAG now says
    ``retries=0`` is not retried even if the row's ``max_tries`` still allows it (Airflow).
    A task instance in ``restarting`` (cleared while running) is scheduled again whatever
    its try reports; the caller checks that state before calling.
    """
    if retries is not None and retries <= 0:
        return False
    return try_number <= max_tries


def failed_try_state(
    try_number: int,
    max_tries: int,
    *,
    retries: int | None = None,
    retry_allowed: bool = True,
) -> TaskInstanceState:
    """``up_for_retry`` or ``failed``: how the failed try ``try_number`` ends.

    `retry_allowed` is False when the task forbade retries (``AirflowFailException``);
    otherwise `should_retry` decides.
    """
    if retry_allowed and should_retry(try_number, max_tries, retries=retries):
        return TaskInstanceState.UP_FOR_RETRY
    return TaskInstanceState.FAILED
