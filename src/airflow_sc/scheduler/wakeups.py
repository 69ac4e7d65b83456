"""Coalescing wake-ups between scheduler stages.

A stage loops: wait for a wake-up (or its slow sweep timer) -> one batch -> wake the next
stage. `Wakeup.set()` never blocks and any number of calls while the stage is busy costs
exactly one more pass, so a burst of executor events is one batch, not N.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio


class Wakeup:
    """A level-triggered, coalescing signal for one consumer."""

    __slots__ = ("_event", "_sets")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._sets = 0

    def set(self) -> None:
        """Ask for one more pass; never blocks, safe to call from any task in the loop."""
        self._sets += 1
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self, sweep_seconds: float | None = None) -> bool:
        """Wait for a `set()` (True) or, after `sweep_seconds`, for the sweep (False).

        Consumes the pending signal: sets that arrive after this returns wake the next
        `wait` at once.
        """
        if not self._event.is_set():
            if sweep_seconds is None:
                await self._event.wait()
            else:
                with anyio.move_on_after(sweep_seconds):
                    await self._event.wait()
        woken = self._event.is_set()
        if woken:
            self._event = anyio.Event()
        return woken

    def statistics(self) -> int:
        """How many times `set()` was called in total."""
        return self._sets


class Passes:
    """Counts finished stage passes, so a caller can wait for the pipeline to move on.

    Read `count`, check what you are waiting for, then `wait_beyond(count)`: a pass that
    finished in between is not missed.
    """

    __slots__ = ("_changed", "count")

    def __init__(self) -> None:
        self.count = 0
        self._changed = anyio.Event()

    def bump(self) -> None:
        self.count += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_beyond(self, count: int) -> None:
        """Return once more than `count` passes have finished."""
        while self.count <= count:
            await self._changed.wait()


@dataclass(slots=True)
class StageWakeups:
    """One `Wakeup` per scheduler stage plus the dag runs whose task instances changed.

    Extra stages (housekeeping, LISTEN/NOTIFY) wake the pipeline through these; a dag_run id
    added to `dirty_runs` is looked at by the next `schedule_tis` pass.
    """

    create_runs: Wakeup = field(default_factory=Wakeup)
    start_runs: Wakeup = field(default_factory=Wakeup)
    schedule_tis: Wakeup = field(default_factory=Wakeup)
    enqueue: Wakeup = field(default_factory=Wakeup)
    housekeeping: Wakeup = field(default_factory=Wakeup)
    dirty_runs: set[int] = field(default_factory=set)
    #: Finished passes of any stage.
    passes: Passes = field(default_factory=Passes)

    def mark_dirty(self, run_ids: int | list[int] | set[int] | tuple[int, ...]) -> None:
        """Mark dag runs for `schedule_tis` and wake it."""
        if isinstance(run_ids, int):
            self.dirty_runs.add(run_ids)
        else:
            self.dirty_runs.update(run_ids)
        self.schedule_tis.set()

    def take_dirty(self) -> set[int]:
        """Take (and clear) the set of dirty dag run ids."""
        taken, self.dirty_runs = self.dirty_runs, set()
        return taken

    def wake_all(self) -> None:
        """Wake every stage (after a restart, or a cross-process notification)."""
        for wakeup in (
            self.create_runs,
            self.start_runs,
            self.schedule_tis,
            self.enqueue,
            self.housekeeping,
        ):
            wakeup.set()
