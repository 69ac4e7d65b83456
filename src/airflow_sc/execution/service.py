"""`ExecutionService`: the execution protocol applied to the database.

One instance per process (the composition root builds it with the process's clock,
secrets and cipher). It is the one writer of a reporting try's state: ``start`` moves a
queued try to running (a compare-and-set, so a duplicated or re-delivered submission of a
try that already started is refused), ``finish`` moves a running try to how it ended,
skips the paths a branch did not take, stores the XComs that came with it and writes the
try's history row, all in one transaction. A try may skip only tasks downstream of its
own (a branch's paths): a skip list naming any other task is refused before anything is
written. Which moves are legal comes from the transition
table (`airflow_sc.domain.transitions`, actor ``execution``), decided in plain code
(`plan_finishes`) before anything is written.

Starts, finishes and run XCom reads of tries arriving together (a burst on the local
channel, thousands of in-process tries) are batched into one transaction each.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import execution as queries
from airflow_sc.db.queries.history import record_history
from airflow_sc.domain.states import TaskInstanceState, TIState
from airflow_sc.domain.transitions import Actor, check_ti_transition, ti_sources
from airflow_sc.execution._batching import Coalescer
from airflow_sc.execution.context import TryContext
from airflow_sc.execution.errors import (
    Forbidden,
    NotFound,
    NotImplementedHere,
    TryConflict,
    TryNotFound,
)
from airflow_sc.execution.port import DagRunTriggers, RunXComs
from airflow_sc.execution.protocol import (
    DagRunTrigger,
    Start,
    TriggerOutcome,
    TryFinish,
    XComRef,
)
from airflow_sc.secrets import writes as secret_writes
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.encryption import SecretsCipher
from airflow_sc.serialization.spec import DagSpec

__all__ = ["EndedTry", "ExecutionService", "FinishPlan", "plan_finishes"]

_TI = TaskInstanceState
_EVERY_STATE: Final[tuple[TIState, ...]] = (None, *_TI)
#: What ``start`` may move to running: queued only (the table's compare-and-set).
START_FROM: Final = ti_sources(Actor.EXECUTION, _TI.RUNNING, _EVERY_STATE)
#: What a branch's skip list may skip: task instances that have not started.
SKIP_FROM: Final = ti_sources(Actor.EXECUTION, _TI.SKIPPED, _EVERY_STATE) - {_TI.RUNNING}
#: How many parsed DAG versions the skip check keeps (the oldest read goes first).
_SPECS_KEPT: Final = 64


def _utcnow() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _unixname() -> str:
    return getpass.getuser()


def _ignore(run_pks: Collection[int]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class EndedTry:
    """One try a finish ends: its row, its new state and its duration."""

    ti_id: str
    scope: queries.TryScope
    state: TaskInstanceState
    duration: float | None
    #: The retry policy's delay before the next try (seconds), for ``up_for_retry``.
    retry_delay: float | None = None


@dataclass(frozen=True, slots=True)
class FinishPlan:
    """What a batch of finishes writes (pure: decided from the rows read)."""

    ended: tuple[EndedTry, ...]
    #: Per finish, in order: whether it ends its try (False: the try is not running).
    accepted: tuple[bool, ...]


def plan_finishes(
    finishes: Sequence[TryFinish], rows: Mapping[str, queries.LockedTry], *, now: datetime
) -> FinishPlan:
    """Which finishes end their try: the try must be running, and the move the service's.

    A try named twice in one batch is ended by its first finish only.
    """
    ended: list[EndedTry] = []
    accepted: list[bool] = []
    seen: set[str] = set()
    for finish in finishes:
        row = rows.get(finish.ti_id)
        if row is None or row.state is not _TI.RUNNING or finish.ti_id in seen:
            accepted.append(False)
            continue
        check_ti_transition(row.state, finish.state, actor=Actor.EXECUTION)
        seen.add(finish.ti_id)
        accepted.append(True)
        duration = None if row.start_date is None else (now - row.start_date).total_seconds()
        delay = finish.retry_delay if finish.state is _TI.UP_FOR_RETRY else None
        ended.append(EndedTry(finish.ti_id, row.scope, finish.state, duration, delay))
    return FinishPlan(tuple(ended), tuple(accepted))


class ExecutionService:
    """What a running try may do, keyed by its `task_instance.id` (a `TryService`).

    `on_ti_finished(dag_run_ids)` is called with the `dag_run.id`s whose tries finished,
    after the finish is committed (the composition root passes the scheduler's wake-up);
    it must not block. `cipher` encrypts the variables tasks write; without it, writes are
    refused. `dag_runs` starts the DAG runs tasks ask for (``TriggerDagRunOperator``);
    without it, such requests are refused (501).
    """

    def __init__(
        self,
        db: Database,
        *,
        secrets: SecretsBackend | None = None,
        cipher: SecretsCipher | None = None,
        clock: Callable[[], datetime] = _utcnow,
        on_ti_finished: Callable[[Collection[int]], None] = _ignore,
        dag_runs: DagRunTriggers | None = None,
    ) -> None:
        self.db = db
        self.dag_runs = dag_runs
        self.secrets = secrets
        self.cipher = cipher
        self.clock = clock
        self.on_ti_finished = on_ti_finished
        self._starts: Coalescer[tuple[str, Start], TryContext | None] = Coalescer(
            self.start_many, shield=True
        )
        self._finishes: Coalescer[TryFinish, bool] = Coalescer(self.finish_many, shield=True)
        self._run_xcoms: Coalescer[str, RunXComs] = Coalescer(self.run_xcoms_many)
        #: Parsed DAG versions, for checking skip lists (a version never changes).
        self._specs: dict[str, DagSpec] = {}

    # -- a try's life ------------------------------------------------------------------------

    async def start(self, ti_id: str, start: Start) -> TryContext:
        """queued -> running; the try's context. `TryConflict` when it is not queued."""
        context = await self._starts.call((ti_id, start))
        if context is None:
            raise TryConflict(f"task instance try {ti_id} is not queued")
        return context

    async def start_many(self, starts: Sequence[tuple[str, Start]]) -> list[TryContext | None]:
        """`start` for several tries in one transaction (None: that try was not queued)."""
        now = self.clock()
        by_host: dict[tuple[str, str], dict[str, int]] = {}
        for ti_id, start in starts:
            host = (start.hostname, start.unixname or _unixname())
            by_host.setdefault(host, {})[ti_id] = start.pid

        async def body(
            tx: Transaction,
        ) -> tuple[dict[str, queries.StartedTry], dict[int, queries.PreviousRun]]:
            started: dict[str, queries.StartedTry] = {}
            for (hostname, unixname), pids in by_host.items():
                started.update(
                    await queries.start_tries(
                        tx,
                        list(pids),
                        now=now,
                        hostname=hostname,
                        unixname=unixname,
                        pid=next(iter(pids.values())),
                        pids=pids,
                        from_states=START_FROM,
                    )
                )
            # prev_*_success: once per run of the batch (most tries of a batch share runs).
            previous: dict[int, queries.PreviousRun] = {}
            runs = {s.scope.dag_run_pk: s for s in started.values() if s.logical_date is not None}
            for run_pk, one in runs.items():
                assert one.logical_date is not None
                found = await queries.previous_successful_run(
                    tx, one.scope.dag_id, one.logical_date
                )
                if found is not None:
                    previous[run_pk] = found
            return started, previous

        started, previous = await self.db.run(body)
        return [
            _context(ti_id, started[ti_id], previous.get(started[ti_id].scope.dag_run_pk))
            if ti_id in started
            else None
            for ti_id, _ in starts
        ]

    async def heartbeat(self, ti_id: str) -> None:
        """Record liveness; `TryConflict` when the try is no longer running (stop it)."""
        if ti_id not in await self.heartbeat_many([ti_id]):
            raise TryConflict(f"task instance try {ti_id} is not running")

    async def heartbeat_many(self, ti_ids: Sequence[str]) -> set[str]:
        """`heartbeat` for several tries in one transaction; the ids still running."""
        if not ti_ids:
            return set()
        now = self.clock()

        async def body(tx: Transaction) -> set[str]:
            return await queries.heartbeat_tries(tx, ti_ids, now=now)

        return await self.db.run(body)

    async def finish(self, finish: TryFinish) -> None:
        """running -> the finish's state; `TryConflict` when the try is not running."""
        check_ti_transition(_TI.RUNNING, finish.state, actor=Actor.EXECUTION)
        if finish.skip:
            await self._check_skip(finish)
        if not await self._finishes.call(finish):
            raise TryConflict(f"task instance try {finish.ti_id} is not running")

    async def _check_skip(self, finish: TryFinish) -> None:
        """`Forbidden` unless every task in the finish's skip list is downstream of the
        try's own task in the DAG version its run uses."""

        async def body(tx: Transaction) -> tuple[str, str, dict[str, Any] | None]:
            scope = await queries.try_scope(tx, finish.ti_id)
            if scope is None:
                raise TryNotFound(finish.ti_id)
            version = await queries.run_dag_version(tx, scope.dag_run_pk)
            if version is None:
                raise Forbidden(f"the DAG version of run {scope.run_id!r} is gone: no skips")
            version_id, data = version
            return scope.task_id, version_id, None if version_id in self._specs else data

        task_id, version_id, data = await self.db.run(body, write=False)
        if data is not None:
            if len(self._specs) >= _SPECS_KEPT:
                del self._specs[next(iter(self._specs))]
            self._specs[version_id] = DagSpec.from_dict(data)
        refused = set(finish.skip) - self._specs[version_id].downstream_of([task_id])
        if refused:
            raise Forbidden(
                f"task {task_id!r} may skip only tasks downstream of it, not {sorted(refused)}"
            )

    async def finish_many(self, finishes: Sequence[TryFinish]) -> list[bool]:
        """`finish` for several tries in one transaction: whether each was recorded."""
        now = self.clock()

        async def body(tx: Transaction) -> FinishPlan:
            rows = await queries.lock_tries(tx, [f.ti_id for f in finishes])
            plan = plan_finishes(finishes, rows, now=now)
            await queries.end_tries(
                tx,
                [(end.ti_id, end.state, end.duration, end.retry_delay) for end in plan.ended],
                from_state=_TI.RUNNING,
                now=now,
            )
            # After the update: the history row holds how the try ended.
            await record_history(tx, [end.ti_id for end in plan.ended])
            by_id = {f.ti_id: f for f, ok in zip(finishes, plan.accepted, strict=True) if ok}
            pushes = [
                (end.scope, key, value)
                for end in plan.ended
                for key, value in by_id[end.ti_id].xcoms
            ]
            if pushes:
                await queries.set_xcoms(tx, pushes, now=now)
            for end in plan.ended:
                if skip := by_id[end.ti_id].skip:
                    await queries.skip_task_instances(
                        tx, end.scope, skip, from_states=SKIP_FROM, now=now
                    )
            return plan

        plan = await self.db.run(body)
        if plan.ended:
            self.on_ti_finished(sorted({end.scope.dag_run_pk for end in plan.ended}))
        return list(plan.accepted)

    # -- XComs -------------------------------------------------------------------------------

    async def get_xcom(self, ti_id: str, task_id: str, key: str, map_index: int) -> Any:
        """The value `task_id` pushed under `key` in the try's run; `NotFound` if none."""

        async def body(tx: Transaction) -> tuple[bool, Any]:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            return await queries.get_xcom(tx, scope, task_id=task_id, key=key, map_index=map_index)

        found, value = await self.db.run(body, write=False)
        if not found or value is None:
            raise NotFound("no such XCom")
        return value

    async def find_xcom(self, ti_id: str, ref: XComRef) -> Any:
        """The value `ref` names: in run ``run_id`` of ``dag_id`` (each the try's own when
        None), or with ``include_prior_dates`` the newest one of that run and the DAG's runs
        with an earlier logical date (Airflow's order); `NotFound` if none."""

        async def body(tx: Transaction) -> tuple[bool, Any]:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            return await queries.find_xcom(
                tx,
                dag_id=ref.dag_id or scope.dag_id,
                run_id=ref.run_id or scope.run_id,
                task_id=ref.task_id,
                key=ref.key,
                map_index=ref.map_index,
                include_prior_dates=ref.include_prior_dates,
            )

        found, value = await self.db.run(body, write=False)
        if not found or value is None:
            raise NotFound("no such XCom")
        return value

    async def set_xcom(self, ti_id: str, key: str, value: Any, *, task_id: str | None) -> None:
        """Push for the try's own task (`Forbidden` when `task_id` names another)."""
        now = self.clock()

        async def body(tx: Transaction) -> None:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            if task_id is not None and task_id != scope.task_id:
                raise Forbidden("a try may only push XComs for its own task")
            await queries.set_xcoms(tx, [(scope, key, value)], now=now)

        await self.db.run(body)

    async def run_xcoms(self, ti_id: str) -> RunXComs:
        """Every XCom of the try's DAG run (reads of tries arriving together are batched)."""
        return await self._run_xcoms.call(ti_id)

    async def run_xcoms_many(self, ti_ids: Sequence[str]) -> list[RunXComs]:
        """`run_xcoms` for several tries in one transaction (each run read once)."""

        async def body(tx: Transaction) -> list[RunXComs]:
            runs = await queries.runs_of_tries(tx, ti_ids)
            missing = [ti_id for ti_id in ti_ids if ti_id not in runs]
            if missing:
                raise TryNotFound(missing[0])
            by_run = {
                run_pk: await queries.run_xcoms_by_pk(tx, run_pk) for run_pk in set(runs.values())
            }
            return [by_run[runs[ti_id]] for ti_id in ti_ids]

        return await self.db.run(body, write=False)

    # -- DAG runs ----------------------------------------------------------------------------

    async def trigger_dag_run(self, ti_id: str, request: DagRunTrigger) -> TriggerOutcome:
        """Start the run the try asks for, through the operator action (`DagRunTriggers`)."""
        if self.dag_runs is None:
            raise NotImplementedHere("this execution service cannot trigger DAG runs")
        return await self.dag_runs.trigger(request, now=self.clock())

    async def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state; None when there is no such run."""

        async def body(tx: Transaction) -> tuple[bool, str | None]:
            return await queries.dag_run_state(tx, dag_id, run_id)

        found, state = await self.db.run(body, write=False)
        return state if found else None

    # -- variables and connections -----------------------------------------------------------

    async def get_variable(self, key: str) -> str | None:
        return None if self.secrets is None else await self.secrets.get_variable(key)

    async def set_variable(self, key: str, value: str, *, description: str | None) -> None:
        """Create or replace a variable in the metastore, encrypted (``Variable.set``)."""
        if self.cipher is None:
            raise RuntimeError("ExecutionService.cipher is unset: variables cannot be written")
        await secret_writes.set_variable(
            self.db, self.cipher, key, value, description=description, secrets=self.secrets
        )

    async def delete_variable(self, key: str) -> bool:
        """Delete a variable from the metastore; False when it was not there."""
        return await secret_writes.delete_variable(self.db, key, secrets=self.secrets)

    async def get_connection(self, conn_id: str) -> dict[str, Any] | None:
        if self.secrets is None:
            return None
        conn = await self.secrets.get_connection(conn_id)
        return None if conn is None else conn.to_dict()


def _context(
    ti_id: str, started: queries.StartedTry, previous: queries.PreviousRun | None
) -> TryContext:
    scope = started.scope
    return TryContext(
        ti_id=ti_id,
        dag_id=scope.dag_id,
        run_id=scope.run_id,
        task_id=scope.task_id,
        map_index=scope.map_index,
        try_number=started.try_number,
        max_tries=started.max_tries,
        dag_fileloc=started.dag_fileloc,
        run_type=started.run_type,
        run_after=started.run_after,
        start_date=started.start_date,
        logical_date=started.logical_date,
        data_interval_start=started.data_interval_start,
        data_interval_end=started.data_interval_end,
        run_start_date=started.run_start_date,
        conf=started.conf,
        prev_data_interval_start_success=None if previous is None else previous.data_interval_start,
        prev_data_interval_end_success=None if previous is None else previous.data_interval_end,
        prev_start_date_success=None if previous is None else previous.start_date,
        prev_end_date_success=None if previous is None else previous.end_date,
    )
