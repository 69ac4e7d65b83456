"""`ExecutionDispatcher`: one call of the execution protocol, whatever carried it.

authorize the token -> parse the arguments -> call the service -> the answer. The HTTP
routes (`airflow_sc.api.execution`) and the local executor's pipe channel
(`airflow_sc.executors._channel_server`) only move bytes: both go through `call`, so a try
meets the same checks and the same writes on either. A refusal is raised as an
`airflow_sc.execution.errors.ExecutionError` carrying its status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_sc.execution.errors import Forbidden, NotFound, Unauthorized
from airflow_sc.execution.port import TryService
from airflow_sc.execution.protocol import (
    DEFAULT_MAX_DEPTH,
    Args,
    ConnectionRef,
    DagRunRef,
    DagRunTrigger,
    Finish,
    Operation,
    Start,
    TryFinish,
    VariableRef,
    VariableWrite,
    XComPush,
    XComRef,
    parse_args,
)
from airflow_sc.execution.tokens import ExecutionTokens, TokenError, TokenExpired

__all__ = ["ExecutionDispatcher"]


@dataclass(frozen=True, slots=True)
class ExecutionDispatcher:
    """Answers execution-protocol calls with `service`, after checking each call's token."""

    service: TryService
    tokens: ExecutionTokens
    #: How deep a call's arguments may nest (`protocol.check_args`).
    max_json_depth: int = DEFAULT_MAX_DEPTH

    def authorize(self, token: str | None, *, acting_try: str | None) -> str:
        """The try `token` is scoped to; it must be `acting_try` when one is named."""
        if not token:
            raise Unauthorized("missing bearer token")
        try:
            ti_id = self.tokens.verify(token)
        except TokenExpired as exc:
            raise Unauthorized("token expired") from exc
        except TokenError as exc:
            raise Unauthorized("invalid token") from exc
        if acting_try is not None and acting_try != ti_id:
            raise Forbidden("the token belongs to another task instance try")
        return ti_id

    async def call(
        self, op: Operation, token: str | None, raw_args: object, *, acting_try: str | None
    ) -> Any:
        """Perform `op` for the try `token` is scoped to; its answer (see `protocol`).

        `acting_try` is the try the transport says the call is about (the path's try over
        HTTP, the try the calling process runs on the local channel): the token must be
        scoped to it.
        """
        ti_id = self.authorize(token, acting_try=acting_try)
        args = parse_args(op, raw_args, max_depth=self.max_json_depth)
        return await _PERFORM[op](self, ti_id, args)

    # -- the operations ----------------------------------------------------------------------

    async def _start(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, Start)
        return await self.service.start(ti_id, args)

    async def _heartbeat(self, ti_id: str, args: Args) -> Any:
        await self.service.heartbeat(ti_id)
        return self.tokens.issue(ti_id)

    async def _finish(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, Finish)
        await self.service.finish(
            TryFinish(ti_id, args.state, args.skip, retry_delay=args.retry_delay)
        )

    async def _xcom_pull(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, XComRef)
        if args.dag_id is None and args.run_id is None and not args.include_prior_dates:
            return await self.service.get_xcom(ti_id, args.task_id, args.key, args.map_index)
        return await self.service.find_xcom(ti_id, args)

    async def _xcom_push(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, XComPush)
        await self.service.set_xcom(ti_id, args.key, args.value, task_id=args.task_id)

    async def _get_variable(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, VariableRef)
        value = await self.service.get_variable(args.key)
        if value is None:
            raise NotFound(f"Variable {args.key!r} does not exist")
        return value

    async def _set_variable(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, VariableWrite)
        await self.service.set_variable(args.key, args.value, description=args.description)

    async def _delete_variable(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, VariableRef)
        if not await self.service.delete_variable(args.key):
            raise NotFound(f"Variable {args.key!r} does not exist")

    async def _get_connection(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, ConnectionRef)
        conn = await self.service.get_connection(args.conn_id)
        if conn is None:
            raise NotFound(f"Connection {args.conn_id!r} does not exist")
        return conn

    async def _trigger_dag_run(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, DagRunTrigger)
        return (await self.service.trigger_dag_run(ti_id, args)).value

    async def _get_dag_run_state(self, ti_id: str, args: Args) -> Any:
        assert isinstance(args, DagRunRef)
        state = await self.service.dag_run_state(args.dag_id, args.run_id)
        if state is None:
            raise NotFound(f"DAG run {args.run_id!r} of DAG {args.dag_id!r} does not exist")
        return state


_Perform = Callable[[ExecutionDispatcher, str, Args], Awaitable[Any]]
_PERFORM: Mapping[Operation, _Perform] = {
    Operation.START: ExecutionDispatcher._start,
    Operation.HEARTBEAT: ExecutionDispatcher._heartbeat,
    Operation.FINISH: ExecutionDispatcher._finish,
    Operation.XCOM_PULL: ExecutionDispatcher._xcom_pull,
    Operation.XCOM_PUSH: ExecutionDispatcher._xcom_push,
    Operation.GET_VARIABLE: ExecutionDispatcher._get_variable,
    Operation.SET_VARIABLE: ExecutionDispatcher._set_variable,
    Operation.DELETE_VARIABLE: ExecutionDispatcher._delete_variable,
    Operation.GET_CONNECTION: ExecutionDispatcher._get_connection,
    Operation.TRIGGER_DAG_RUN: ExecutionDispatcher._trigger_dag_run,
    Operation.GET_DAG_RUN_STATE: ExecutionDispatcher._get_dag_run_state,
}
