"""How an action tells the scheduler that something changed."""

from __future__ import annotations

from collections.abc import Callable, Collection

#: Called after commit with the primary keys of the dag runs the action changed.
Wake = Callable[[Collection[int]], None]


def no_wake(run_pks: Collection[int]) -> None:
    """For callers without a scheduler in their process (the sweep will notice)."""
