"""`InMemoryExecutor`: the public executor test double.

It runs no task code, but its tries speak the execution protocol like real task processes:
each submitted try is started through the execution service (`service`) and, when its
outcome is decided, finished through it (the service writes the state, the history row and
a branch's skips), then reported with a `TaskEvent` saying its state was recorded. An
outcome with no state stands for a process that ended without reporting (a crash): the
event says nothing was recorded, and the scheduler's executor_events ends the try. Unless
the double holds workloads it finishes each at once (SUCCESS by default); with
``hold=True`` a test releases workloads when it wants (`release`), so it can look at the
world in between without sleeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from airflow_sc.domain import TaskInstanceState
from airflow_sc.domain.retries import failed_try_state
from airflow_sc.execution.errors import TryConflict
from airflow_sc.execution.port import TryService
from airflow_sc.execution.protocol import Start, TryFinish
from airflow_sc.executors.base import Executor, TaskEvent, Workload

__all__ = ["InMemoryExecutor", "Outcome"]

_TI = TaskInstanceState


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a workload ends with (what its task would report).

    `state` None: the process ends without reporting anything (it crashed, or was killed).
    FAILED is reported as a task does: ``up_for_retry`` while the try's retries allow
    another one (and `retry_allowed`), else ``failed``.
    """

    state: TaskInstanceState | None = TaskInstanceState.SUCCESS
    info: str | None = None
    retry_allowed: bool = True
    #: Downstream task ids to skip (a branching operator).
    skip: tuple[str, ...] = ()
    #: Seconds before the next try, as a retry policy would choose (with ``up_for_retry``).
    retry_delay: float | None = None


OutcomeFunction = Callable[[Workload], "Outcome | TaskInstanceState | None"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _success(_: Workload) -> Outcome:
    return Outcome()


class InMemoryExecutor(Executor):
    """An executor whose tries report outcomes without running anything.

    `service` is the execution service the tries report to (``ExecutionService`` on the
    scheduler's database, with the test's clock). ``outcome(workload)`` picks each
    workload's ending; ``hold=True`` keeps workloads running until `release`; ``slots``
    (None: unlimited) is what `open_slots` counts from.
    """

    def __init__(
        self,
        name: str = "local",
        *,
        service: TryService,
        outcome: OutcomeFunction = _success,
        hold: bool = False,
        slots: int | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.service = service
        self.outcome = outcome
        self.hold = hold
        self.slots = slots
        self.clock = clock
        #: Every workload ever submitted, in submission order.
        self.submitted: list[Workload] = []
        #: Workloads started and not finished yet, by ti_id.
        self.running: dict[str, Workload] = {}
        #: Tries the service started, with their max_tries (what a task reads at start).
        self._max_tries: dict[str, int] = {}
        self._outbox: deque[TaskEvent] = deque()
        self._outbox_changed: anyio.Event | None = None
        self._submitted_event: anyio.Event | None = None

    async def serve(
        self,
        events: MemoryObjectSendStream[TaskEvent],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        async with events:
            task_status.started()
            while True:
                while self._outbox:
                    await events.send(self._outbox[0])
                    self._outbox.popleft()
                self._outbox_changed = anyio.Event()
                await self._outbox_changed.wait()

    async def submit(self, workloads: Sequence[Workload]) -> None:
        started: list[Workload] = []
        for workload in workloads:
            # A try counts as submitted (and can be released) once its start is through.
            try:
                context = await self.service.start(workload.ti_id, Start("in-memory", 0))
            except TryConflict:
                context = None  # another process holds it: nothing to run, nothing to say
            self.submitted.append(workload)
            if context is not None:
                self._max_tries[workload.ti_id] = context.max_tries
                self.running[workload.ti_id] = workload
                started.append(workload)
        if self._submitted_event is not None:
            self._submitted_event.set()
            self._submitted_event = None
        if not self.hold:
            for workload in started:
                await self._finish(workload, self.outcome(workload))

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        workload = self.running.get(ti_id)
        if workload is not None:
            await self._finish(workload, Outcome(state=None, info=reason))

    def open_slots(self) -> int | None:
        if self.slots is None:
            return None
        return max(0, self.slots - len(self.running))

    async def release(
        self,
        ti_ids: Sequence[str] | None = None,
        outcome: Outcome | TaskInstanceState | None = None,
    ) -> list[Workload]:
        """Finish held workloads (all of them by default) with `outcome` or the default one."""
        chosen = list(self.running) if ti_ids is None else list(ti_ids)
        released = []
        for ti_id in chosen:
            workload = self.running.get(ti_id)
            if workload is None:
                continue
            await self._finish(workload, outcome if outcome is not None else self.outcome(workload))
            released.append(workload)
        return released

    def drain_events(self) -> list[TaskEvent]:
        """Take every event not sent yet, oldest first.

        For tests that drive the scheduler's stages by hand (passing the events to
        `apply_events` themselves) instead of running `serve`.
        """
        taken = list(self._outbox)
        self._outbox.clear()
        return taken

    async def wait_submitted(self, count: int) -> None:
        """Wait until at least `count` workloads were submitted in total."""
        while len(self.submitted) < count:
            if self._submitted_event is None:
                self._submitted_event = anyio.Event()
            await self._submitted_event.wait()

    async def _finish(
        self, workload: Workload, outcome: Outcome | TaskInstanceState | None
    ) -> None:
        self.running.pop(workload.ti_id, None)
        if not isinstance(outcome, Outcome):
            outcome = Outcome(state=outcome)
        recorded = self._reported_state(workload, outcome)
        if recorded is not None:
            delay = outcome.retry_delay if recorded is TaskInstanceState.UP_FOR_RETRY else None
            finish = TryFinish(workload.ti_id, recorded, outcome.skip, retry_delay=delay)
            try:
                await self.service.finish(finish)
            except TryConflict:
                recorded = None  # no longer running (cleared, reclaimed): nothing recorded
        self._outbox.append(
            TaskEvent(workload.ti_id, workload.key, self.clock(), recorded, outcome.info)
        )
        if self._outbox_changed is not None:
            self._outbox_changed.set()

    def _reported_state(self, workload: Workload, outcome: Outcome) -> TaskInstanceState | None:
        """What the try's task would report (None: nothing, it crashed)."""
        if outcome.state is not _TI.FAILED:
            return outcome.state
        max_tries = self._max_tries.get(workload.ti_id, 0)
        return failed_try_state(
            workload.key.try_number, max_tries, retry_allowed=outcome.retry_allowed
        )
