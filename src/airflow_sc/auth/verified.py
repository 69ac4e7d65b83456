"""Remember verified API tokens until they expire, so a busy client's token is checked once.

Verifying a JWT (an HMAC and the claims' parsing) costs more than the rest of a cached
request. A token that verified once under a key stays valid, as far as its signature and
claims go, until its `exp`: what can revoke it earlier (its user deleted, its role or
password changed) is the credential stamp, which `UserStamps` rechecks on every request
anyway. So a verified token is remembered (by its exact text and the key) until it
expires; a token that failed is not remembered (failing costs the caller, not us).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from airflow_sc.auth.tokens import AccessToken, InvalidToken, decode_token

__all__ = ["VerifiedTokens"]

#: Tokens remembered at most; past it, expired ones are dropped, then the oldest.
_CAPACITY: Final = 4096


class VerifiedTokens:
    """`decode_token` with the successful answers remembered until each token expires."""

    def __init__(self, *, capacity: int = _CAPACITY) -> None:
        self.capacity = capacity
        self._known: dict[tuple[str, str], AccessToken] = {}

    def decode(self, raw: str, *, key: str, now: datetime) -> AccessToken:
        """The bearer of a valid token; raises `InvalidToken` otherwise (as `decode_token`)."""
        known = self._known.get((key, raw))
        if known is not None:
            if now < known.expires_at:
                return known
            del self._known[(key, raw)]
            raise InvalidToken("the token has expired")
        token = decode_token(raw, key=key, now=now)
        if len(self._known) >= self.capacity:
            self._evict(now)
        self._known[(key, raw)] = token
        return token

    def __len__(self) -> int:
        return len(self._known)

    def _evict(self, now: datetime) -> None:
        for entry, token in list(self._known.items()):
            if now >= token.expires_at:
                del self._known[entry]
        while len(self._known) >= self.capacity:
            # Dicts keep insertion order: drop the oldest.
            del self._known[next(iter(self._known))]
