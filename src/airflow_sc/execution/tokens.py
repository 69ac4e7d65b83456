"""Short-lived JWTs scoped to one task-instance try.

A worker gets one token per try (`issue`); every execution-API call carries it as a bearer
token. The token's subject is the try's `task_instance.id`: a call about another try is
refused (403), an expired or forged token is rejected (401). Heartbeats hand back a fresh
token, so a try that runs longer than the lifetime keeps working while it stays alive.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

__all__ = ["ExecutionTokens", "TokenError", "TokenExpired", "generate_secret"]

_AUDIENCE = "airflow-sc:execution"
_ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is missing, malformed or not signed by this deployment."""


class TokenExpired(TokenError):
    """The token was valid but its lifetime is over."""


def generate_secret() -> str:
    """A random signing secret (for one process, or to put in the settings)."""
    return secrets.token_urlsafe(32)


#: Verified tokens remembered per `ExecutionTokens` (a try calls several times per token).
_VERIFIED_CAPACITY = 4096


@dataclass(frozen=True, slots=True)
class ExecutionTokens:
    """Issues and checks execution-API tokens signed with `secret` (HS256).

    A token whose signature was checked once is remembered (bounded, oldest forgotten
    first) with its subject and expiry: later calls with the same token only compare the
    expiry with the clock.
    """

    secret: str = field(repr=False)
    #: Seconds a token stays valid.
    lifetime: float = 600.0
    clock: Callable[[], float] = time.time
    _verified: OrderedDict[str, tuple[str, float]] = field(
        default_factory=OrderedDict, repr=False, compare=False
    )

    def issue(self, ti_id: str) -> str:
        now = self.clock()
        claims = {"sub": ti_id, "aud": _AUDIENCE, "iat": int(now), "exp": now + self.lifetime}
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> str:
        """The try id the token is scoped to; raises `TokenExpired` / `TokenError`."""
        known = self._verified.get(token)
        if known is not None:
            subject, expires = known
            if expires <= self.clock():
                raise TokenExpired("token expired")
            return subject
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"verify_exp": False, "require": ["sub", "exp", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        # Expiry against the injected clock (PyJWT would use the wall clock).
        subject, expires = str(claims["sub"]), float(claims["exp"])
        if expires <= self.clock():
            raise TokenExpired("token expired")
        self._verified[token] = (subject, expires)
        if len(self._verified) > _VERIFIED_CAPACITY:
            self._verified.popitem(last=False)
        return subject
