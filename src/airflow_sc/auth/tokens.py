"""JWT access tokens (HS256), issued by `POST /auth/token` and checked on every request.

Pure: the caller passes the signing key and the current time, so expiry is testable with
an injected clock.

A token carries its user's *credential stamp* (claim `ver`): a digest of the user's role
and password hash at login. The API compares it with the user's current stamp, so a token
stops working when its user is deleted, changes role or resets the password, not only
when it expires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import jwt

from airflow_sc.auth.roles import Role

__all__ = ["AccessToken", "InvalidToken", "credential_stamp", "decode_token", "issue_token"]

ALGORITHM: Final = "HS256"
ISSUER: Final = "airflow-sc"


class InvalidToken(Exception):
    """The token is malformed, badly signed, or expired."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a valid token says about its bearer."""

    username: str
    role: Role
    expires_at: datetime
    #: The user's credential stamp when the token was issued (None: a token without one,
    #: which the API refuses).
    stamp: str | None = None


def credential_stamp(role: str, password_hash: str) -> str:
    """A short digest of what a token's power rests on: the user's role and password.

    The password hash holds a random salt, so a user deleted and created again under the
    same name gets a new stamp too. The digest reveals nothing usable about the password.
    """
    return hashlib.sha256(f"{role}\0{password_hash}".encode()).hexdigest()[:32]


def issue_token(
    *,
    key: str,
    username: str,
    role: Role,
    now: datetime,
    lifetime: timedelta,
    stamp: str | None = None,
) -> str:
    expires = now + lifetime
    claims: dict[str, Any] = {
        "sub": username,
        "role": role.value,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if stamp is not None:
        claims["ver"] = stamp
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_token(token: str, *, key: str, now: datetime) -> AccessToken:
    """The bearer of a valid token; raises `InvalidToken` otherwise."""
    try:
        # Time claims are checked below against the injected clock, not the wall clock.
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["sub", "role", "exp", "iss"],
            },
        )
        username = claims["sub"]
        role = Role(claims["role"])
        expires = int(claims["exp"])
        not_before = int(claims.get("nbf", 0))
        stamp = claims.get("ver")
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidToken(str(exc) or type(exc).__name__) from None
    if not isinstance(username, str) or not username:
        raise InvalidToken("the token names no user")
    if stamp is not None and not isinstance(stamp, str):
        raise InvalidToken("the token's credential stamp is malformed")
    timestamp = now.timestamp()
    if timestamp >= expires:
        raise InvalidToken("the token has expired")
    if timestamp < not_before:
        raise InvalidToken("the token is not valid yet")
    return AccessToken(username, role, datetime.fromtimestamp(expires, tz=now.tzinfo), stamp)
