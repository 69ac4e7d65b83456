"""`InMemoryExecutor`: the public executor test double.

It runs nothing. Every submitted workload is recorded; unless the double holds workloads,
it reports RUNNING and then the outcome (SUCCESS by default) at once. With ``hold=True`` a
test releases workloads when it wants (`release`), so it can look at the world in between
without sleeping.
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
from airflow_sc.executors.base import Executor, TaskEvent, Workload

__all__ = ["InMemoryExecutor", "Outcome"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a workload ends with (what a task would report)."""

    state: TaskInstanceState = TaskInstanceState.SUCCESS
    info: str | None = None
    retry_allowed: bool = True
    #: Downstream task ids to skip (a branching operator).
    skip: tuple[str, ...] = ()


OutcomeFunction = Callable[[Workload], "Outcome | TaskInstanceState"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _success(_: Workload) -> Outcome:
    return Outcome()


class InMemoryExecutor(Executor):
    """An executor that reports outcomes without running anything.

    ``outcome(workload)`` picks each workload's ending; ``hold=True`` keeps workloads
    RUNNING until `release`; ``slots`` (None: unlimited) is what `open_slots` counts from.
    """

    def __init__(
        self,
        name: str = "local",
        *,
        outcome: OutcomeFunction = _success,
        hold: bool = False,
        slots: int | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.outcome = outcome
        self.hold = hold
        self.slots = slots
        self.clock = clock
        #: Every workload ever submitted, in submission order.
        self.submitted: list[Workload] = []
        #: Workloads started and not finished yet, by ti_id.
        self.running: dict[str, Workload] = {}
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
        for workload in workloads:
            self.submitted.append(workload)
            self.running[workload.ti_id] = workload
            self._emit(workload, Outcome(TaskInstanceState.RUNNING))
            if not self.hold:
                self._finish(workload, self.outcome(workload))
        if self._submitted_event is not None:
            self._submitted_event.set()
            self._submitted_event = None

    async def terminate(self, ti_id: str, *, reason: str) -> None:
        workload = self.running.get(ti_id)
        if workload is not None:
            self._finish(workload, Outcome(TaskInstanceState.FAILED, info=reason))

    def open_slots(self) -> int | None:
        if self.slots is None:
            return None
        return max(0, self.slots - len(self.running))

    def release(
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
            self._finish(workload, outcome if outcome is not None else self.outcome(workload))
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

    def _finish(self, workload: Workload, outcome: Outcome | TaskInstanceState) -> None:
        self.running.pop(workload.ti_id, None)
        self._emit(workload, outcome if isinstance(outcome, Outcome) else Outcome(outcome))

    def _emit(self, workload: Workload, outcome: Outcome) -> None:
        self._outbox.append(
            TaskEvent(
                ti_id=workload.ti_id,
                key=workload.key,
                state=outcome.state,
                at=self.clock(),
                info=outcome.info,
                retry_allowed=outcome.retry_allowed,
                skip=outcome.skip,
            )
        )
        if self._outbox_changed is not None:
            self._outbox_changed.set()
