"""`VerifiedTokens`: a token verified once is remembered until it expires, never longer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_sc.auth import InvalidToken, Role, VerifiedTokens, issue_token

KEY = "k" * 32
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def token(lifetime: float = 60.0, key: str = KEY) -> str:
    return issue_token(
        key=key, username="ann", role=Role.VIEWER, now=NOW, lifetime=timedelta(seconds=lifetime)
    )


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    tokens = VerifiedTokens()
    raw = token(lifetime=60)
    first = tokens.decode(raw, key=KEY, now=NOW)
    assert first.username == "ann"
    assert tokens.decode(raw, key=KEY, now=NOW + timedelta(seconds=59)) is first
    with pytest.raises(InvalidToken, match="expired"):
        tokens.decode(raw, key=KEY, now=NOW + timedelta(seconds=60))
    # Forgotten once expired: it is checked again, and still refused.
    with pytest.raises(InvalidToken):
        tokens.decode(raw, key=KEY, now=NOW + timedelta(seconds=61))


def test_a_remembered_token_is_checked_again_under_another_key() -> None:
    tokens = VerifiedTokens()
    raw = token()
    tokens.decode(raw, key=KEY, now=NOW)
    with pytest.raises(InvalidToken):
        tokens.decode(raw, key="another-key-" * 3, now=NOW)


def test_a_bad_token_is_refused_each_time() -> None:
    tokens = VerifiedTokens()
    forged = token(key="not-the-key-" * 3)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.decode(forged, key=KEY, now=NOW)


def test_capacity_drops_expired_then_oldest() -> None:
    tokens = VerifiedTokens(capacity=2)
    short, a, b = token(lifetime=1), token(lifetime=100), token(lifetime=200)
    tokens.decode(short, key=KEY, now=NOW)
    tokens.decode(a, key=KEY, now=NOW)
    later = NOW + timedelta(seconds=5)
    tokens.decode(b, key=KEY, now=later)  # the expired one goes, `a` stays
    assert len(tokens) == 2
    c = token(lifetime=300)
    tokens.decode(c, key=KEY, now=later)  # nothing expired: the oldest (`a`) goes
    assert len(tokens) == 2
