"""`RuntimeTaskInstance`: the ``ti`` / ``task_instance`` a running task sees in its context."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_sc.sdk.xcom_arg import XCOM_RETURN_KEY

from .client import TaskClient

__all__ = ["RuntimeTaskInstance"]


class RuntimeTaskInstance:
    """One try of one task instance; XCom calls go through its `TaskClient`."""

    def __init__(
        self,
        *,
        task: Any,
        dag_id: str,
        run_id: str,
        try_number: int,
        max_tries: int,
        client: TaskClient,
        map_index: int = -1,
    ) -> None:
        self.task = task
        self.task_id: str = task.task_id
        self.dag_id = dag_id
        self.run_id = run_id
        self.try_number = try_number
        self.max_tries = max_tries
        self.map_index = map_index
        self._client = client

    def xcom_push(self, key: str, value: Any) -> None:
        """Store `value` under `key` for this task instance."""
        self._client.xcom_push(key, value)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = XCOM_RETURN_KEY,
        map_indexes: int | None = None,
        default: Any = None,
    ) -> Any:
        """XCom values of this run, as Airflow's ``ti.xcom_pull``.

        One task id gives its value (`default` when it pushed none); a list of ids gives a
        list of values in the same order. Without `task_ids`, this task's own value.
        """
        map_index = -1 if map_indexes is None else map_indexes
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            value = self._client.xcom_pull(task_ids, key, map_index)
            return default if value is None else value
        values = [self._client.xcom_pull(task_id, key, map_index) for task_id in task_ids]
        return [default if value is None else value for value in values]

    def __repr__(self) -> str:
        return (
            f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} "
            f"[try {self.try_number}, map_index {self.map_index}]>"
        )
