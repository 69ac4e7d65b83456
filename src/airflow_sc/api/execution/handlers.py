"""The execution API's operations, independent of HTTP.

The HTTP routes (`routes.py`) check the token and call these; the in-process executor calls
them directly. Either way a try goes through the same checks and writes.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import execution as queries
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.secrets import writes as secret_writes
from airflow_sc.secrets.base import SecretsBackend
from airflow_sc.secrets.encryption import SecretsCipher
from airflow_sc.task_runner.try_context import TryContext

__all__ = ["ExecutionHandlers", "FinishRequest", "TryConflict", "TryNotFound"]


class TryConflict(Exception):
    """The task instance no longer holds this try in the state the call needs (HTTP 409)."""


class TryNotFound(Exception):
    """No task instance holds this try (HTTP 404)."""


#: One try's finish (state, a branch's skip list, XComs stored with it).
FinishRequest = queries.FinishSpec


def _context(ti_id: str, started: queries.StartedTry) -> TryContext:
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
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _unixname() -> str:
    return getpass.getuser()


def _ignore(run_pks: Collection[int]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ExecutionHandlers:
    """What a running try may do, keyed by its `task_instance.id`.

    `on_ti_finished(dag_run_ids)` is called with the `dag_run.id`s whose tries finished,
    after the finish is committed (the same shape as `airflow_sc.actions.Wake`: the
    composition root passes the scheduler's wake-up); it must not block.
    """

    db: Database
    secrets: SecretsBackend | None = None
    on_ti_finished: Callable[[Collection[int]], None] = _ignore
    clock: Callable[[], datetime] = _utcnow
    #: Encrypts variables tasks write (`set_variable`); without it, writes are refused.
    cipher: SecretsCipher | None = None

    async def start(
        self, ti_id: str, *, hostname: str, pid: int, unixname: str | None = None
    ) -> TryContext:
        """QUEUED -> RUNNING; the context the worker needs. `TryConflict` if not QUEUED."""
        (context,) = await self.start_many([ti_id], hostname=hostname, pid=pid, unixname=unixname)
        if context is None:
            raise TryConflict(f"task instance try {ti_id} is not queued")
        return context

    async def start_many(
        self,
        ti_ids: Sequence[str],
        *,
        hostname: str,
        pid: int,
        unixname: str | None = None,
        pids: Mapping[str, int] | None = None,
    ) -> list[TryContext | None]:
        """`start` for several tries in one transaction (None: that try was not QUEUED).

        `pids` records each try's own process where the tries run in different processes.
        """
        now = self.clock()
        user = unixname or _unixname()

        async def body(tx: Transaction) -> dict[str, queries.StartedTry]:
            return await queries.start_tries(
                tx, ti_ids, now=now, hostname=hostname, unixname=user, pid=pid, pids=pids
            )

        started = await self.db.run(body)
        return [_context(ti_id, started[ti_id]) if ti_id in started else None for ti_id in ti_ids]

    async def heartbeat(self, ti_id: str) -> None:
        """Record liveness; `TryConflict` when the try is no longer running (stop it)."""
        now = self.clock()

        async def body(tx: Transaction) -> bool:
            return await queries.heartbeat_try(tx, ti_id, now=now)

        if not await self.db.run(body):
            raise TryConflict(f"task instance try {ti_id} is not running")

    async def heartbeat_many(self, ti_ids: Sequence[str]) -> set[str]:
        """`heartbeat` for several tries in one transaction; the ids still running."""
        now = self.clock()

        async def body(tx: Transaction) -> set[str]:
            return await queries.heartbeat_tries(tx, ti_ids, now=now)

        return await self.db.run(body) if ti_ids else set()

    async def finish(
        self,
        ti_id: str,
        state: TaskInstanceState,
        *,
        skip: Iterable[str] = (),
        xcoms: Iterable[tuple[str, Any]] = (),
    ) -> queries.FinishedTry:
        """RUNNING -> `state`, XComs in `xcoms` stored in the same transaction."""
        (finished,) = await self.finish_many(
            [FinishRequest(ti_id, state, tuple(skip), tuple(xcoms))]
        )
        if finished is None:
            raise TryConflict(f"task instance try {ti_id} is not running")
        return finished

    async def finish_many(
        self, requests: Sequence[FinishRequest]
    ) -> list[queries.FinishedTry | None]:
        """`finish` for several tries in one transaction (None: that try was not RUNNING)."""
        now = self.clock()

        async def body(tx: Transaction) -> dict[str, queries.FinishedTry]:
            return await queries.finish_tries(tx, requests, now=now)

        finished = await self.db.run(body)
        results = [finished.get(request.ti_id) for request in requests]
        runs = sorted({done.scope.dag_run_pk for done in results if done is not None})
        if runs:
            self.on_ti_finished(runs)
        return results

    async def get_xcom(self, ti_id: str, *, task_id: str, key: str, map_index: int) -> Any:
        """The value, None when there is none (`TryNotFound` for an unknown try)."""

        async def body(tx: Transaction) -> tuple[bool, Any]:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            return await queries.get_xcom(tx, scope, task_id=task_id, key=key, map_index=map_index)

        _, value = await self.db.run(body, write=False)
        return value

    async def run_xcoms(self, ti_id: str) -> dict[tuple[str, int, str], Any]:
        """Every XCom of the try's DAG run, by (task_id, map_index, key)."""

        async def body(tx: Transaction) -> dict[tuple[str, int, str], Any]:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            return await queries.run_xcoms(tx, scope)

        return await self.db.run(body, write=False)

    async def run_xcoms_many(self, ti_ids: Sequence[str]) -> list[dict[tuple[str, int, str], Any]]:
        """`run_xcoms` for several tries in one transaction (each run read once)."""

        async def body(tx: Transaction) -> list[dict[tuple[str, int, str], Any]]:
            runs = await queries.runs_of_tries(tx, ti_ids)
            by_run = {
                run_pk: await queries.run_xcoms_by_pk(tx, run_pk) for run_pk in set(runs.values())
            }
            missing = [ti_id for ti_id in ti_ids if ti_id not in runs]
            if missing:
                raise TryNotFound(missing[0])
            return [by_run[runs[ti_id]] for ti_id in ti_ids]

        return await self.db.run(body, write=False)

    async def set_xcom(self, ti_id: str, *, key: str, value: Any) -> None:
        now = self.clock()

        async def body(tx: Transaction) -> None:
            scope = await queries.try_scope(tx, ti_id)
            if scope is None:
                raise TryNotFound(ti_id)
            await queries.set_xcom(tx, scope, key=key, value=value, now=now)

        await self.db.run(body)

    async def get_variable(self, key: str) -> str | None:
        return None if self.secrets is None else await self.secrets.get_variable(key)

    async def set_variable(self, key: str, value: str, *, description: str | None = None) -> None:
        """Create or replace a variable in the metastore, encrypted (``Variable.set``)."""
        if self.cipher is None:
            raise RuntimeError("ExecutionHandlers.cipher is unset: variables cannot be written")
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
