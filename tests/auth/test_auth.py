"""Users, passwords, tokens and the generated admin account, on real databases."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_sc.auth import (
    InvalidToken,
    Role,
    SigningKeyError,
    UserError,
    authenticate,
    create_user,
    credential_stamp,
    decode_token,
    ensure_admin_user,
    hash_password,
    issue_token,
    list_users,
    load_or_create_signing_key,
    verify_password,
)
from airflow_sc.db.engine import open_database

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_password_hashes_are_salted_and_verified() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second  # per-user salt
    assert first.startswith("scrypt$")
    assert verify_password("pw", first)
    assert not verify_password("pW", first)
    assert not verify_password("pw", "garbage")
    assert not verify_password("pw", "bcrypt$1$2$3$00$00")


def test_tokens_carry_user_and_role_and_expire() -> None:
    key = "k" * 32
    token = issue_token(key=key, username="ada", role=Role.OP, now=NOW, lifetime=timedelta(hours=1))
    claims = decode_token(token, key=key, now=NOW + timedelta(minutes=59))
    assert (claims.username, claims.role) == ("ada", Role.OP)
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(token, key=key, now=NOW + timedelta(hours=1))
    with pytest.raises(InvalidToken):
        decode_token(token, key="x" * 32, now=NOW)
    with pytest.raises(InvalidToken, match="not valid yet"):
        decode_token(token, key=key, now=NOW - timedelta(minutes=5))


def test_tokens_carry_the_users_credential_stamp() -> None:
    key = "k" * 32
    hashed = hash_password("pw")
    stamp = credential_stamp("op", hashed)
    token = issue_token(
        key=key, username="ada", role=Role.OP, now=NOW, lifetime=timedelta(hours=1), stamp=stamp
    )
    assert decode_token(token, key=key, now=NOW).stamp == stamp
    # The stamp moves with the role and with the password (a new hash has a new salt).
    assert credential_stamp("admin", hashed) != stamp
    assert credential_stamp("op", hash_password("pw")) != stamp
    assert len(stamp) == 32  # a digest: neither the hash nor the role in clear


def test_signing_key_is_generated_once_and_private(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path, None)
    path = tmp_path / "api_signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signing_key(tmp_path, None) == key
    assert load_or_create_signing_key(tmp_path, "configured-key-0123456789") == (
        "configured-key-0123456789"
    )
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_or_create_signing_key(tmp_path, None)


@pytest.mark.anyio
async def test_users_on_both_databases(database_url: str) -> None:
    async with open_database(database_url) as db:
        ada = await create_user(db, "ada", "pw", Role.ADMIN, clock=lambda: NOW)
        assert ada.created_at == NOW
        with pytest.raises(UserError, match="already exists"):
            await create_user(db, "ada", "other", Role.VIEWER)
        with pytest.raises(UserError, match="invalid username"):
            await create_user(db, "bad name!", "pw", Role.VIEWER)
        assert await authenticate(db, "ada", "pw") == ada
        assert await authenticate(db, "ada", "nope") is None
        assert await authenticate(db, "nobody", "pw") is None


@pytest.mark.anyio
async def test_ensure_admin_user_creates_admin_once(database_url: str, tmp_path: Path) -> None:
    async with open_database(database_url) as db:
        path = await ensure_admin_user(db, tmp_path)
        assert path == tmp_path / "admin_password.txt"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        password = path.read_text().strip()
        assert len(password) >= 16
        admin = await authenticate(db, "admin", password)
        assert admin is not None
        assert admin.role == Role.ADMIN
        assert await ensure_admin_user(db, tmp_path) is None  # users exist: nothing changes
        assert [u.username for u in await list_users(db)] == ["admin"]
