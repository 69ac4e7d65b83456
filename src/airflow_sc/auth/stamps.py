"""Recheck tokens against the users table, cheaply.

Every API request compares its token's credential stamp with the user's current one. The
current stamps are cached per user for a short time (`DEFAULT_RECHECK`): a deleted user, a
changed role or a reset password locks the old tokens out within that time, and a busy API
reads each active user's row about once per interval instead of once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from airflow_sc.auth.tokens import AccessToken
from airflow_sc.auth.users import current_stamp
from airflow_sc.db import Database

__all__ = ["DEFAULT_RECHECK", "UserStamps"]

DEFAULT_RECHECK: Final = timedelta(seconds=2)
#: Past this many cached users, expired entries are dropped.
_PRUNE_AT: Final = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: str | None
    read_at: datetime


class UserStamps:
    """Users' current credential stamps, each read from the database at most once per
    `recheck` (times come from the caller's clock, so tests move them explicitly)."""

    def __init__(self, *, recheck: timedelta = DEFAULT_RECHECK) -> None:
        self.recheck = recheck
        self._entries: dict[str, _Entry] = {}

    async def is_current(self, db: Database, token: AccessToken, now: datetime) -> bool:
        """Whether the token's user still exists with the role and password it was issued for."""
        if token.stamp is None:
            return False
        return token.stamp == await self._current(db, token.username, now)

    async def _current(self, db: Database, username: str, now: datetime) -> str | None:
        entry = self._entries.get(username)
        # A clock that went back also counts as stale.
        if entry is not None and entry.read_at <= now < entry.read_at + self.recheck:
            return entry.stamp
        stamp = await current_stamp(db, username)
        if len(self._entries) >= _PRUNE_AT:
            self._prune(now)
        self._entries[username] = _Entry(stamp, now)
        return stamp

    def _prune(self, now: datetime) -> None:
        for name, entry in list(self._entries.items()):
            if not entry.read_at <= now < entry.read_at + self.recheck:
                del self._entries[name]
