"""A task's calls meet the REST API's input rules on every transport (the protocol parser
checks them for HTTP and the local pipe alike; the in-process client before it keeps a
push), before anything is written: real database, the real dispatcher and service."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_sc.db.engine import open_database
from airflow_sc.execution.dispatch import ExecutionDispatcher
from airflow_sc.execution.errors import BadRequest, NotFound
from airflow_sc.execution.protocol import Operation
from airflow_sc.execution.service import ExecutionService
from airflow_sc.execution.tokens import ExecutionTokens
from airflow_sc.executors.inprocess import SnapshotTaskClient
from tests.executors.world import SECRET, add_run, add_ti

pytestmark = pytest.mark.anyio


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


#: (operation, raw arguments, the start of the reason)
BAD = (
    (Operation.XCOM_PUSH, {"key": "k", "value": "a\ud800"}, "args.value: contains an unpaired"),
    (Operation.XCOM_PUSH, {"key": "k", "value": {"x\x00": 1}}, "args.value: key 'x\\x00'"),
    (Operation.XCOM_PUSH, {"key": "k", "value": float("nan")}, "args.value: NaN"),
    (Operation.XCOM_PUSH, {"key": "k", "value": nested(300)}, "args.value[0]"),
    (Operation.XCOM_PUSH, {"key": "k\x00", "value": 1}, "args.key: contains a NUL"),
    (Operation.HEARTBEAT, {"extra": "\udc00"}, "args.extra"),
    (Operation.FINISH, {"state": "success", "skip": ["\x00"]}, "args.skip[0]"),
    (Operation.SET_VARIABLE, {"key": "v", "value": "\ud800"}, "args.value"),
    (Operation.TRIGGER_DAG_RUN, {"dag_id": "d", "run_id": "r\x00"}, "args.run_id"),
)


async def test_calls_that_break_the_input_rules_are_refused_before_any_write(
    database_url: str,
) -> None:
    async with open_database(database_url) as db:
        await add_run(db)
        ti_id = await add_ti(db, "succeed")
        dispatcher = ExecutionDispatcher(ExecutionService(db), ExecutionTokens(SECRET))
        token = dispatcher.tokens.issue(ti_id)
        await dispatcher.call(Operation.START, token, {"hostname": "w", "pid": 1}, acting_try=ti_id)
        for op, raw, reason in BAD:
            with pytest.raises(BadRequest) as refused:
                await dispatcher.call(op, token, raw, acting_try=ti_id)
            assert refused.value.detail.startswith(reason), (op, refused.value.detail)
        with pytest.raises(NotFound):
            await dispatcher.service.get_xcom(ti_id, "succeed", "k", -1)
        # The try still runs: it finishes as if nothing had happened.
        await dispatcher.call(Operation.FINISH, token, {"state": "success"}, acting_try=ti_id)


async def test_the_depth_limit_is_the_dispatchers(database_url: str) -> None:
    async with open_database(database_url) as db:
        await add_run(db)
        ti_id = await add_ti(db, "succeed")
        dispatcher = ExecutionDispatcher(
            ExecutionService(db), ExecutionTokens(SECRET), max_json_depth=3
        )
        token = dispatcher.tokens.issue(ti_id)
        await dispatcher.call(Operation.START, token, {"hostname": "w", "pid": 1}, acting_try=ti_id)
        raw = {"key": "k", "value": nested(3)}
        with pytest.raises(BadRequest, match=r"nested deeper than 3 levels"):
            await dispatcher.call(Operation.XCOM_PUSH, token, raw, acting_try=ti_id)
        raw = {"key": "k", "value": nested(2)}
        await dispatcher.call(Operation.XCOM_PUSH, token, raw, acting_try=ti_id)


def test_an_in_process_push_meets_the_same_rules() -> None:
    client = SnapshotTaskClient("t", -1, {})
    for key, value in (("k", "\ud800"), ("k\x00", 1), ("k", nested(300)), ("k", float("inf"))):
        with pytest.raises(BadRequest):
            client.xcom_push(key, value)
    client.xcom_push("k", {"fine": [1, 2]})
    assert client.pushed == {"k": {"fine": [1, 2]}}
