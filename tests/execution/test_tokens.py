"""Execution-API tokens: a remembered (already verified) token still expires on time."""

from __future__ import annotations

import pytest

from airflow_sc.execution.tokens import ExecutionTokens, TokenError, TokenExpired

SECRET = "a-test-signing-secret-of-enough-length"


def test_a_verified_token_is_remembered_but_still_expires() -> None:
    now = [1_000.0]
    tokens = ExecutionTokens(SECRET, lifetime=60, clock=lambda: now[0])
    token = tokens.issue("try-1")
    assert tokens.verify(token) == "try-1"
    assert tokens.verify(token) == "try-1"  # from memory
    now[0] += 61
    with pytest.raises(TokenExpired):
        tokens.verify(token)


def test_a_forged_token_is_never_remembered() -> None:
    tokens = ExecutionTokens(SECRET)
    forged = ExecutionTokens("another-deployments-secret-key-xx").issue("try-1")
    for _ in range(2):
        with pytest.raises(TokenError):
            tokens.verify(forged)
