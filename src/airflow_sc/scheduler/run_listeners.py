"""DAG-run listener hooks, called by the scheduler off its critical path.

Airflow calls a listener plugin's ``on_dag_run_running(dag_run, msg)`` when the scheduler
starts a run, and ``on_dag_run_success`` / ``on_dag_run_failed`` when it finishes one
(``msg``: ``"success"``, ``"task_failure"``, or ``"timed_out"`` after ``dagrun_timeout``). A
run moved by hand (API, UI) or cleared back to queued is not announced, as in Airflow.

The stages only note what changed once their transaction has committed (`RunNotices.add`,
never blocking, nothing at all when no listener defines a DAG-run hook). `serve` reads the
runs' rows in one query per batch and calls the hooks in a worker thread, one batch after
another in the order noted: a slow or failing listener delays other listeners' calls, never
a run. At shutdown what was noted is still delivered, after the stages have stopped.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries.dag_runs import runs_by_pk
from airflow_sc.domain import DagRunState
from airflow_sc.plugins.listeners import get_listeners, notify
from airflow_sc.sdk.context import to_pendulum

__all__ = ["RUN_HOOKS", "ListenedDagRun", "RunNotices"]

log = logging.getLogger(__name__)

#: The hook called for each state a run is announced in.
RUN_HOOKS = {
    DagRunState.RUNNING: "on_dag_run_running",
    DagRunState.SUCCESS: "on_dag_run_success",
    DagRunState.FAILED: "on_dag_run_failed",
}

#: Notices kept while the listeners are behind; beyond it the oldest are dropped (logged).
NOTICE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ListenedDagRun:
    """The ``dag_run`` a DAG-run hook receives: the run as it was announced (read-only)."""

    id: int
    dag_id: str
    run_id: str
    state: str
    run_type: str
    triggered_by: str | None
    logical_date: Any
    data_interval_start: Any
    data_interval_end: Any
    run_after: Any
    queued_at: Any
    start_date: Any
    end_date: Any
    conf: dict[str, Any]
    note: str | None


@dataclass(frozen=True, slots=True)
class _Notice:
    run_pk: int
    state: DagRunState
    msg: str


def wanted() -> bool:
    """Whether a registered listener defines a DAG-run hook."""
    return any(
        callable(getattr(listener, hook, None))
        for listener in get_listeners()
        for hook in RUN_HOOKS.values()
    )


class RunNotices:
    """DAG-run state changes waiting for the listeners. The stages add, `serve` delivers."""

    def __init__(self, *, enabled: bool | None = None, limit: int = NOTICE_LIMIT) -> None:
        self.enabled = wanted() if enabled is None else enabled
        self._pending: deque[_Notice] = deque()
        self._limit = limit
        self._arrived = anyio.Event()

    def add(self, run_pk: int, state: DagRunState, msg: str = "") -> None:
        """Note that run `run_pk` was (committed as) `state`; never blocks."""
        if not self.enabled or state not in RUN_HOOKS:
            return
        if len(self._pending) >= self._limit:
            dropped = self._pending.popleft()
            log.warning("listeners are behind: run %d's notice dropped", dropped.run_pk)
        self._pending.append(_Notice(run_pk, state, msg))
        self._arrived.set()

    async def serve(
        self,
        db: Database,
        *,
        stop: anyio.Event,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Deliver notices until `stop` is set and none is left."""
        task_status.started()
        if not self.enabled:
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(_set_on, stop, self._wake)
            while self._pending or not stop.is_set():
                if not self._pending:
                    await self._arrived.wait()
                    self._arrived = anyio.Event()
                    continue
                batch = [self._pending.popleft() for _ in range(len(self._pending))]
                await self._deliver(db, batch)
            tg.cancel_scope.cancel()

    def _wake(self) -> None:
        self._arrived.set()

    async def _deliver(self, db: Database, batch: Sequence[_Notice]) -> None:
        pks = sorted({notice.run_pk for notice in batch})

        async def body(tx: Transaction) -> dict[int, dict[str, Any]]:
            return await runs_by_pk(tx, pks)

        try:
            rows = await db.run(body, write=False)
        except Exception:
            log.exception("could not read runs %s for their listeners", pks)
            return
        calls = [
            (RUN_HOOKS[notice.state], _listened(rows[notice.run_pk], notice.state), notice.msg)
            for notice in batch
            if notice.run_pk in rows
        ]
        await anyio.to_thread.run_sync(_call_hooks, calls)


def _call_hooks(calls: Sequence[tuple[str, ListenedDagRun, str]]) -> None:
    for hook, dag_run, msg in calls:
        notify(hook, dag_run=dag_run, msg=msg)


def _listened(row: dict[str, Any], state: DagRunState) -> ListenedDagRun:
    def date(name: str) -> Any:
        value: datetime | None = row[name]
        return to_pendulum(value)

    return ListenedDagRun(
        id=int(row["id"]),
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        state=state.value,
        run_type=row["run_type"],
        triggered_by=row["triggered_by"],
        logical_date=date("logical_date"),
        data_interval_start=date("data_interval_start"),
        data_interval_end=date("data_interval_end"),
        run_after=date("run_after"),
        queued_at=date("queued_at"),
        start_date=date("start_date"),
        end_date=date("end_date"),
        conf=dict(row["conf"] or {}),
        note=row["note"],
    )


async def _set_on(event: anyio.Event, then: Callable[[], None]) -> None:
    await event.wait()
    then()
