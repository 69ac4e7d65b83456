"""Identities of DAG runs and task instances, used as dict keys and in executor events."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DagRunKey", "TaskInstanceKey"]


class DagRunKey(NamedTuple):
    dag_id: str
    run_id: str


class TaskInstanceKey(NamedTuple):
    """One try of one task instance. ``map_index`` is -1 for an unmapped task.

    Two keys of the same task instance differ only in ``try_number``: executor events carry the
    try they report on, so an event from an older try can be recognised and ignored.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 0

    @property
    def dag_run_key(self) -> DagRunKey:
        return DagRunKey(self.dag_id, self.run_id)

    @property
    def primary(self) -> tuple[str, str, str, int]:
        """The task instance's row identity: every field except ``try_number``."""
        return (self.dag_id, self.run_id, self.task_id, self.map_index)

    def with_try_number(self, try_number: int) -> TaskInstanceKey:
        return self._replace(try_number=try_number)
