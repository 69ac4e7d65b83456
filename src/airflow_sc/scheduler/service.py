"""`serve_scheduler`: the scheduler as a task group of stages (DESIGN section 2).

Start order: the job row and its heartbeat, executor_events, the executors (each gets a
clone of the event stream), schedule_tis, then the stages that take new work (create_runs,
start_runs, enqueue) and any extra stages.

Shutdown, in this order, once `shutdown_trigger()` returns:

1. The new-work stages stop (nothing more is enqueued); extra stages are cancelled.
2. Task instances already handed to executors get `shutdown_grace` seconds to finish; the
   executors keep running them and their events are applied as usual.
3. The executors are cancelled: each stops what is still running (a worker process gets
   SIGTERM, then SIGKILL after ``executor.terminate_grace``; an in-process try is
   cancelled), says why in the try's log, and reports it FAILED. The executors are given
   no grace of their own here (`cli/_composition.py` builds them with none): step 2 was it.
4. executor_events applies those reports (UP_FOR_RETRY, or FAILED without retries left)
   until every executor has closed its side of the stream, bounded by
   `EVENTS_DRAIN_TIMEOUT` and shielded; then the stages finish and the job row is closed.

The process-wide drain deadline (`runtime.shutdown.drain_deadline`) leaves room for all of
it; a second signal cuts it short, and what was not recorded is reclaimed on restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream

from airflow_sc.db.queries import scheduling
from airflow_sc.executors.base import TaskEvent
from airflow_sc.heartbeats import open_job
from airflow_sc.scheduler.changes.stages import stage_subscriber
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.stages import (
    serve_create_runs,
    serve_enqueue,
    serve_executor_events,
    serve_schedule_tis,
    serve_start_runs,
)
from airflow_sc.scheduler.succession import claim_seat
from airflow_sc.scheduler.wakeups import StageWakeups

__all__ = ["SchedulerHandle", "serve_scheduler"]

log = logging.getLogger(__name__)

#: Events buffered between the executors and executor_events (backpressure beyond it).
EVENT_BUFFER = 10_000
#: Seconds executor_events may take, once the executors stopped, to apply their last events.
EVENTS_DRAIN_TIMEOUT = 10.0


@dataclass(frozen=True)
class SchedulerHandle:
    """What `serve_scheduler` hands its parent: in-process wake-ups and progress."""

    job_id: int
    wakeups: StageWakeups

    def wake(self, run_pks: Iterable[int] = ()) -> None:
        """Wake every stage and mark these runs dirty (a nudge: the process's changes
        reach the stages through `SchedulerDeps.changes`)."""
        self.wakeups.mark_dirty(set(run_pks))
        self.wakeups.wake_all()

    async def wait_until(self, predicate: Callable[[], Awaitable[bool]]) -> None:
        """Wait until `predicate()` holds, re-checking after every stage pass.

        The caller bounds the wait (`anyio.fail_after`).
        """
        while True:
            seen = self.wakeups.passes.count
            if await predicate():
                return
            await self.wakeups.passes.wait_beyond(seen)


async def serve_scheduler(
    deps: SchedulerDeps,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[SchedulerHandle] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run the scheduler until `shutdown_trigger()` returns and its work is drained."""
    if not deps.executors:
        raise ValueError("the scheduler needs at least one executor")
    async with open_job(deps.db, "SchedulerJob", interval=deps.heartbeat_interval) as job_id:
        if deps.seat is not None:
            # Before housekeeping's first pass, which then resets the predecessor's work.
            await claim_seat(deps.db, deps.seat, job_id, now=deps.clock())
        stage_deps = StageDeps(deps, job_id)
        wakeups = StageWakeups()
        send, receive = anyio.create_memory_object_stream[TaskEvent](EVENT_BUFFER)
        events_done = anyio.Event()
        changes = deps.changes
        heard = nullcontext() if changes is None else changes.subscribe(stage_subscriber(wakeups))
        with heard:
            async with anyio.create_task_group() as core:
                # Listeners hear of runs until the stages have stopped, then of what is left.
                notices = stage_deps.run_notices
                await core.start(partial(notices.serve, deps.db, stop=stage_deps.finished))
                await core.start(_serve_events, stage_deps, wakeups, receive, events_done)
                async with anyio.create_task_group() as executors_tg:
                    async with send:
                        for executor in deps.executors:
                            await executors_tg.start(executor.serve, send.clone())
                    await core.start(serve_schedule_tis, stage_deps, wakeups)
                    async with anyio.create_task_group() as intake:
                        await intake.start(serve_create_runs, stage_deps, wakeups)
                        await intake.start(serve_start_runs, stage_deps, wakeups)
                        await intake.start(serve_enqueue, stage_deps, wakeups)
                        async with anyio.create_task_group() as extras:
                            for stage in deps.extra_stages:
                                await extras.start(stage, stage_deps, wakeups)
                            task_status.started(SchedulerHandle(job_id, wakeups))
                            await shutdown_trigger()
                            # 1. Stop taking new work: the built-in stages finish the batch they
                            # are in; extra stages (which need not watch `stopping`) are cancelled.
                            stage_deps.stopping.set()
                            wakeups.wake_all()
                            extras.cancel_scope.cancel()
                    # 2. The grace for what the executors run.
                    with anyio.move_on_after(deps.shutdown_grace) as grace:
                        await _wait_drained(stage_deps, wakeups)
                    if grace.cancelled_caught:
                        log.warning(
                            "shutdown: task instances still running after %.1fs: stopping them",
                            deps.shutdown_grace,
                        )
                    # 3. The executors stop what is left and report it.
                    executors_tg.cancel_scope.cancel()
                # 4. Every executor has returned and closed its side of the stream:
                # executor_events applies what is buffered, then sees the end of the stream.
                with anyio.move_on_after(EVENTS_DRAIN_TIMEOUT, shield=True) as applied:
                    await events_done.wait()
                if applied.cancelled_caught:
                    log.warning(
                        "shutdown: executor events still unapplied; a restart reclaims them"
                    )
                stage_deps.finish()
                wakeups.schedule_tis.set()


async def _serve_events(
    deps: StageDeps,
    wakeups: StageWakeups,
    events: MemoryObjectReceiveStream[TaskEvent],
    done: anyio.Event,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """executor_events, setting `done` when it returns (the stream ended, or it stopped)."""
    try:
        await serve_executor_events(deps, wakeups, events, task_status=task_status)
    finally:
        done.set()


async def _wait_drained(deps: StageDeps, wakeups: StageWakeups) -> None:
    """Wait until nothing this scheduler queued is still queued or running."""
    while True:
        seen = wakeups.passes.count
        remaining = await deps.db.run(
            lambda tx: scheduling.owned_unfinished(tx, deps.job_id or -1), write=False
        )
        if remaining == 0:
            return
        with anyio.move_on_after(deps.deps.sweep_interval):
            await wakeups.passes.wait_beyond(seen)
