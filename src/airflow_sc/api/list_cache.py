"""Answers of the busiest list routes, remembered until something they show may have changed.

`GET /api/v2/dags` and `GET /api/v2/dags/{dag_id}/dagRuns` are what dashboards and scripts
poll. Their whole response (status, headers, body) is kept under the exact path and query
string and the caller's role, and replayed to the next caller with that role whose token
checks out (the same checks as the routes': the token's signature and expiry, its user's
current credential stamp, the role's `dag:read`); such a request skips the routing, the
database and the serialization. What the routes answer depends on nothing else about the
caller.

An answer is dropped (all of them, and any answer being computed is not kept):

- on every change the process's `ChangeFeed` hears but a try's end alone (which changes
  task instances, shown by neither route): a DAG stored, paused or deleted, runs created,
  cleared or marked, the scheduler moving runs along, other processes' notes, lost notes;
- when a write request (any method but GET, HEAD and OPTIONS, the execution API aside)
  to this server starts and again when its response starts, whether or not the action
  announces itself;
- after `api.list_cache_max_age` seconds at the latest, for writes no feed announces (a
  command run in another process that does not notify).

So a write made through this server, or announced to the feed before its response, is
visible on the next read. The cache is used only where the feed hears every component:
`airflow-sc run`, where the API, the DAG processor and the scheduler (with the receiver of
other processes' notes) share the process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_sc.auth import InvalidToken, Permission, Role, UserStamps, VerifiedTokens, role_allows
from airflow_sc.db import Database
from airflow_sc.scheduler.changes import Change, Note

__all__ = ["CACHED_ROUTES", "Answer", "CacheLists", "ListCache"]

#: The routes whose answers are kept (paths under the API prefix).
CACHED_ROUTES: Final = re.compile(r"^/api/v2/dags(?:/[^/]+/dagRuns)?$")
#: Answers kept at most; past it, the cache starts over.
_CAPACITY: Final = 1024
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Changes that alter no row the cached routes show.
_UNSEEN: Final = frozenset({Change.TIS_FINISHED})


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float


class ListCache:
    """Whole answers by (path, query string, role), dropped by `invalidate`."""

    def __init__(
        self,
        *,
        max_age: float,
        capacity: int = _CAPACITY,
        now: Callable[[], float] = anyio.current_time,
    ) -> None:
        self.max_age = max_age
        self.capacity = capacity
        #: Seconds on a monotonic clock (the event loop's).
        self.now = now
        #: Bumped by every invalidation: an answer computed across one is not kept.
        self.generation = 0
        self._answers: dict[tuple[str, bytes, Role], Answer] = {}

    def get(self, key: tuple[str, bytes, Role]) -> Answer | None:
        now = self.now()
        answer = self._answers.get(key)
        if answer is not None and not answer.stored_at <= now < answer.stored_at + self.max_age:
            del self._answers[key]
            return None
        return answer

    def put(self, key: tuple[str, bytes, Role], answer: Answer, generation: int) -> None:
        """Keep `answer` unless an invalidation happened since it was started (`generation`)."""
        if generation != self.generation:
            return
        if len(self._answers) >= self.capacity:
            self._answers.clear()
        self._answers[key] = answer

    def invalidate(self) -> None:
        self.generation += 1
        self._answers.clear()

    def hear(self, note: Note) -> None:
        """A `ChangeFeed` listener: drop every answer unless `note` is only tries' ends."""
        if not note.changes <= _UNSEEN:
            self.invalidate()

    def __len__(self) -> int:
        return len(self._answers)


class CacheLists:
    """ASGI middleware serving `CACHED_ROUTES` from `cache` (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: ListCache,
        db: Database,
        signing_key: str,
        tokens: VerifiedTokens,
        stamps: UserStamps,
        clock: Callable[[], datetime],
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.cache = cache
        self.db = db
        self.signing_key = signing_key
        self.tokens = tokens
        self.stamps = stamps
        self.clock = clock
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in _READ_METHODS:
            await self._write(scope, receive, send)
            return
        if scope["method"] != "GET" or not CACHED_ROUTES.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        role = await self._reader_role(scope)
        if role is None:
            # No token, a bad one, or no dag:read: the route answers (401/403) itself.
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""), role)
        answer = self.cache.get(key)
        if answer is not None:
            await send(
                {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
            )
            await send({"type": "http.response.body", "body": answer.body})
            return
        await self._compute(key, scope, receive, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.cache.invalidate()

        async def send_invalidating(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.cache.invalidate()
            await send(message)

        try:
            await self.app(scope, receive, send_invalidating)
        finally:
            self.cache.invalidate()

    async def _compute(
        self, key: tuple[str, bytes, Role], scope: Scope, receive: Receive, send: Send
    ) -> None:
        generation = self.cache.generation
        started: Message | None = None
        body: list[bytes] = []
        keep = True

        async def send_recording(message: Message) -> None:
            nonlocal started, keep
            if message["type"] == "http.response.start":
                started = message
                keep = message["status"] == 200
            elif message["type"] == "http.response.body" and keep and started is not None:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    keep = False  # a streamed answer is not kept
                else:
                    # Kept before the client has it: its next request finds it.
                    answer = Answer(
                        status=started["status"],
                        headers=list(started.get("headers", [])),
                        body=b"".join(body),
                        stored_at=self.cache.now(),
                    )
                    self.cache.put(key, answer, generation)
            await send(message)

        await self.app(scope, receive, send_recording)

    async def _reader_role(self, scope: Scope) -> Role | None:
        """The caller's role if its bearer token passes the routes' checks for dag:read."""
        raw = _bearer(scope)
        if raw is None:
            return None
        now = self.clock()
        try:
            token = self.tokens.decode(raw, key=self.signing_key, now=now)
        except InvalidToken:
            return None
        if not role_allows(token.role, Permission.DAG_READ):
            return None
        if not await self.stamps.is_current(self.db, token, now):
            return None
        return token.role


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = bytes(value).decode("latin-1")
            scheme, _, credentials = text.partition(" ")
            if scheme.lower() == "bearer" and credentials:
                return credentials
            return None
    return None
