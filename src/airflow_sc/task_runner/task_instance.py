"""`RuntimeTaskInstance`: the ``ti`` / ``task_instance`` a running task sees in its context."""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from airflow_sc.sdk._task_client import TaskClient
from airflow_sc.sdk.xcom_arg import XCOM_RETURN_KEY

__all__ = ["RuntimeTaskInstance"]


@functools.cache
def _fqdn() -> str:
    # May ask the resolver: only when a task reads it, once per process.
    return socket.getfqdn()


class RuntimeTaskInstance:
    """One try of one task instance; XCom calls go through its `TaskClient`.

    `api_base_url` (the deployment's API, when known) makes `log_url` point at this try's
    log in the REST API.
    """

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
        api_base_url: str | None = None,
        hostname: str | None = None,
    ) -> None:
        self.task = task
        self.task_id: str = task.task_id
        self.dag_id = dag_id
        self.run_id = run_id
        self.try_number = try_number
        self.max_tries = max_tries
        self.map_index = map_index
        self._hostname = hostname
        #: ``running`` while the try runs; its outcome when callbacks are called.
        self.state: str = "running"
        #: The run, as the context's ``dag_run`` (set once the context is built).
        self.dag_run: Any = None
        self._api_base_url = api_base_url
        self._client = client

    @property
    def hostname(self) -> str:
        """The machine running the try (its fully qualified name, looked up once)."""
        return self._hostname or _fqdn()

    @property
    def log_url(self) -> str:
        """Where this try's log is served (the REST API's task-instance log route)."""
        path = (
            f"/api/v2/dags/{quote(self.dag_id, safe='')}/dagRuns/{quote(self.run_id, safe='')}"
            f"/taskInstances/{quote(self.task_id, safe='')}/logs/{self.try_number}"
        )
        if self.map_index >= 0:
            path += f"?map_index={self.map_index}"
        return (self._api_base_url or "").rstrip("/") + path

    def get_dagrun(self) -> Any:
        """This try's DAG run: ``run_id``, ``dag_id``, ``run_type``, ``conf``, ``run_after``,
        ``logical_date``, ``data_interval_start/end``, ``start_date`` (the context's
        ``dag_run``)."""
        if self.dag_run is None:
            raise RuntimeError("the DAG run is known once the try's context is built")
        return self.dag_run

    def xcom_push(self, key: str, value: Any) -> None:
        """Store `value` under `key` for this task instance."""
        self._client.xcom_push(key, value)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = XCOM_RETURN_KEY,
        include_prior_dates: bool = False,
        map_indexes: int | None = None,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """XCom values, as Airflow's ``ti.xcom_pull``.

        One task id gives its value (`default` when it pushed none); a list of ids gives a
        list of values in the same order. Without `task_ids`, this task's own value. The
        values are this run's, or those of run `run_id` of DAG `dag_id` (each defaults to
        this try's); `include_prior_dates` also reads that DAG's runs with an earlier
        logical date, the newest value winning.
        """
        elsewhere: dict[str, Any] = {}
        if dag_id not in (None, self.dag_id):
            elsewhere["dag_id"] = dag_id
        if run_id not in (None, self.run_id):
            elsewhere["run_id"] = run_id
        if include_prior_dates:
            elsewhere["include_prior_dates"] = True
        map_index = -1 if map_indexes is None else map_indexes
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            value = self._client.xcom_pull(task_ids, key, map_index, **elsewhere)
            return default if value is None else value
        values = [
            self._client.xcom_pull(task_id, key, map_index, **elsewhere) for task_id in task_ids
        ]
        return [default if value is None else value for value in values]

    def __repr__(self) -> str:
        return (
            f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} "
            f"[try {self.try_number}, map_index {self.map_index}]>"
        )
