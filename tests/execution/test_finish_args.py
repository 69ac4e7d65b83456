"""A finish's arguments: the retry policy's delay comes only with a retry, as seconds."""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.errors import BadRequest
from airflow_sc.execution.protocol import Finish, Operation, parse_args

TI = TaskInstanceState


def test_a_retry_carries_the_policy_delay() -> None:
    args = parse_args(Operation.FINISH, {"state": "up_for_retry", "retry_delay": 90})
    assert args == Finish(TI.UP_FOR_RETRY, (), 90.0)
    assert parse_args(Operation.FINISH, {"state": "up_for_retry"}) == Finish(TI.UP_FOR_RETRY)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"state": "success", "retry_delay": 5}, "only with state up_for_retry"),
        ({"state": "failed", "retry_delay": 5}, "only with state up_for_retry"),
        ({"state": "up_for_retry", "retry_delay": -1}, "between 0 and 86400"),
        ({"state": "up_for_retry", "retry_delay": 86401}, "between 0 and 86400"),
        # Refused by the input rules every call meets first (`protocol.check_args`).
        ({"state": "up_for_retry", "retry_delay": math.nan}, "NaN and Infinity"),
        ({"state": "up_for_retry", "retry_delay": math.inf}, "NaN and Infinity"),
        ({"state": "up_for_retry", "retry_delay": True}, "number of seconds"),
        ({"state": "up_for_retry", "retry_delay": "60"}, "number of seconds"),
    ],
)
def test_a_wrong_delay_is_refused_with_its_reason(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_args(Operation.FINISH, raw)
