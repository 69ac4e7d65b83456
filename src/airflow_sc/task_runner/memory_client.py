"""`InMemoryTaskClient`: a `TaskClient` over plain dicts (``dags test`` and tests).

Clients made with `for_task` share one XCom store and one store of variable writes, so
what one task instance pushes or sets the next one reads, as through the execution API.

There is no database behind it: a ``TriggerDagRunOperator``'s request is recorded in
`triggered` (a second request for the same run finds it existing), and the state of a
triggered run is what `dag_run_states` says; waiting for a run it does not list fails
the try, since nothing would ever run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome
from airflow_sc.secrets.connection import Connection
from airflow_sc.secrets.masking import SecretsMasker

__all__ = ["InMemoryTaskClient", "XComKey"]

#: (dag_id, run_id, task_id, map_index, key)
XComKey = tuple[str, str, str, int, str]


@dataclass(frozen=True, slots=True)
class InMemoryTaskClient:
    """XComs per (run, task, map_index, key); variables and connections from mappings.

    A connection value may be a `Connection` or its URI / JSON text (parsed when asked for,
    so a malformed one fails only the task that uses it). `Variable.set` / `delete` land in
    `written` (a deleted key maps to ``None``), over `variables`. With a `masker`, what is
    read is registered with it, as the worker's client does, so it is masked in output.
    """

    dag_id: str
    run_id: str
    task_id: str | None = None
    map_index: int = -1
    variables: Mapping[str, str] = field(default_factory=dict)
    connections: Mapping[str, Connection | str] = field(default_factory=dict)
    xcoms: dict[XComKey, Any] = field(default_factory=dict)
    written: dict[str, str | None] = field(default_factory=dict)
    masker: SecretsMasker | None = None
    triggered: list[DagRunTrigger] = field(default_factory=list)
    #: (dag_id, run_id) -> state, for the runs a test lets a task wait for.
    dag_run_states: dict[tuple[str, str], str] = field(default_factory=dict)

    def for_task(self, task_id: str, map_index: int = -1) -> InMemoryTaskClient:
        """The client of one task instance of this run (same XCom and variable stores)."""
        return replace(self, task_id=task_id, map_index=map_index)

    def xcom_pull(
        self,
        task_id: str,
        key: str,
        map_index: int = -1,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        include_prior_dates: bool = False,
    ) -> Any:
        # No run has a date here: include_prior_dates reads the named run only.
        dag, run = dag_id or self.dag_id, run_id or self.run_id
        return self.xcoms.get((dag, run, task_id, map_index, key))

    def xcom_push(self, key: str, value: Any) -> None:
        if self.task_id is None:
            raise RuntimeError("this client belongs to no task instance; use for_task()")
        self.xcoms[(self.dag_id, self.run_id, self.task_id, self.map_index, key)] = value

    def get_variable(self, key: str) -> str | None:
        value = self.written[key] if key in self.written else self.variables.get(key)
        if value is not None and self.masker is not None:
            self.masker.add_variable(key, value)
        return value

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        if self.masker is not None:
            self.masker.add_variable(key, value)
        self.written[key] = value

    def delete_variable(self, key: str) -> bool:
        existed = self.get_variable(key) is not None
        self.written[key] = None
        return existed

    def get_connection(self, conn_id: str) -> Connection | None:
        value = self.connections.get(conn_id)
        conn = Connection.deserialize(conn_id, value) if isinstance(value, str) else value
        if conn is not None and self.masker is not None:
            self.masker.add_connection(conn)
        return conn

    def trigger_dag_run(self, request: DagRunTrigger) -> TriggerOutcome:
        taken = any(
            (t.dag_id, t.run_id) == (request.dag_id, request.run_id) for t in self.triggered
        )
        self.triggered.append(request)
        if not taken:
            return TriggerOutcome.CREATED
        return TriggerOutcome.RESET if request.reset_dag_run else TriggerOutcome.EXISTS

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        state = self.dag_run_states.get((dag_id, run_id))
        if state is None:
            raise RuntimeError(
                f"cannot wait for run {run_id} of DAG {dag_id}: this in-memory run (dags test) "
                "starts no other DAG's runs; run both DAGs with `airflow-sc run`"
            )
        return state

    # Nothing here waits: the awaitable variants answer at once.

    async def aget_variable(self, key: str) -> str | None:
        return self.get_variable(key)

    async def aset_variable(self, key: str, value: str, description: str | None = None) -> None:
        self.set_variable(key, value, description)

    async def adelete_variable(self, key: str) -> bool:
        return self.delete_variable(key)

    async def aget_connection(self, conn_id: str) -> Connection | None:
        return self.get_connection(conn_id)
