"""How a forked child ended, as a value (pure: no I/O)."""

from __future__ import annotations

import enum
import os
import signal
from dataclasses import dataclass
from typing import Any

__all__ = ["OUT_OF_MEMORY_EXIT", "ChildExit", "Ending"]

#: The exit code of a child whose program let a `MemoryError` escape (under its memory
#: limit, that is the limit being hit); see `zygote.py`.
OUT_OF_MEMORY_EXIT = 251


class Ending(enum.StrEnum):
    """Why a child ended."""

    #: On its own: it exited (`ChildExit.code`) or a signal nobody here sent killed it.
    ON_ITS_OWN = "on_its_own"
    #: Its timeout passed and the zygote killed it.
    TIMED_OUT = "timed_out"
    #: The parent stopped it (`ChildExit.reason` says why).
    STOPPED = "stopped"
    #: It ran out of the memory it was allowed (`ChildExit.code` is `OUT_OF_MEMORY_EXIT`).
    OUT_OF_MEMORY = "out_of_memory"


@dataclass(frozen=True, slots=True)
class ChildExit:
    """A child's end: its exit code or the signal that killed it, and why it ended."""

    #: The exit code, when the child exited.
    code: int | None
    #: The signal's number, when a signal killed it.
    signal: int | None
    ending: Ending = Ending.ON_ITS_OWN
    #: Why the zygote stopped it (timeouts and the parent's stops), else None.
    reason: str | None = None
    #: Seconds from the fork to the end.
    duration: float = 0.0

    @classmethod
    def from_wait_status(
        cls,
        status: int,
        *,
        ending: Ending = Ending.ON_ITS_OWN,
        reason: str | None = None,
        max_memory: int = 0,
        duration: float = 0.0,
    ) -> ChildExit:
        """The end `os.waitpid`'s `status` describes."""
        if os.WIFSIGNALED(status):
            return cls(None, os.WTERMSIG(status), ending, reason, duration)
        code = os.WEXITSTATUS(status)
        if ending is Ending.ON_ITS_OWN and max_memory > 0 and code == OUT_OF_MEMORY_EXIT:
            ending = Ending.OUT_OF_MEMORY
            reason = f"it ran out of memory (limit {max_memory} bytes)"
        return cls(code, None, ending, reason, duration)

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return str(self.signal)

    def describe(self) -> str:
        """``exited with code 3`` or ``killed by SIGSEGV``."""
        if self.signal is not None:
            return f"killed by {self.signal_name}"
        return f"exited with code {self.code}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "signal": self.signal,
            "ending": self.ending.value,
            "reason": self.reason,
            "duration": self.duration,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChildExit:
        return cls(
            code=data.get("code"),
            signal=data.get("signal"),
            ending=Ending(data.get("ending", Ending.ON_ITS_OWN.value)),
            reason=data.get("reason"),
            duration=float(data.get("duration") or 0.0),
        )
