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

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_sc.auth import InvalidToken, Permission, Role, UserStamps, VerifiedTokens, role_allows
from airflow_sc.db import Database
from airflow_sc.db.queries import api_runs
from airflow_sc.scheduler.changes import Change, Note

log = logging.getLogger(__name__)

__all__ = ["CACHED_ROUTES", "Answer", "AnswerScope", "CacheLists", "ListCache", "scope_of"]

#: The routes whose answers are kept (paths under the API prefix).
CACHED_ROUTES: Final = re.compile(r"^/api/v2/dags(?:/(?P<dag_id>[^/]+)/dagRuns)?$")
#: `GET /dags` filters that look at runs: such answers go with any run's change.
RUN_FILTERS: Final = re.compile(rb"(?:^|&)(?:last_dag_run_state|dag_run_[a-z_]+)=")
#: Answers kept at most; past it, the cache starts over.
_CAPACITY: Final = 1024
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Changes that alter no row the cached routes show.
_UNSEEN: Final = frozenset({Change.TIS_FINISHED})
#: Changes to runs only (their rows, or their task instances'), never to DAG rows.
_RUN_CHANGES: Final = frozenset(
    {Change.TIS_FINISHED, Change.RUNS_CREATED, Change.RUNS_CHANGED, Change.RUNS_PROGRESSED}
)
#: The scope of answers that show runs of every DAG (`~`, `GET /dags` run filters).
_ANY_DAG: Final = "~"

Key = tuple[str, bytes, Role]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float


@dataclass(frozen=True, slots=True)
class AnswerScope:
    """What an answer shows: DAG rows only (`runs_of` None), or runs of one DAG or of any
    (`_ANY_DAG`)."""

    runs_of: str | None


@dataclass(frozen=True, slots=True)
class Stamp:
    """The drop counters an answer's computation started under."""

    everything: int
    all_runs: int
    runs_of: int


def scope_of(path: str, query: bytes) -> AnswerScope:
    """The scope of a cached route's answer."""
    match = CACHED_ROUTES.match(path)
    dag_id = match.group("dag_id") if match else None
    if dag_id is not None:
        return AnswerScope(dag_id)
    return AnswerScope(_ANY_DAG if RUN_FILTERS.search(query) else None)


class ListCache:
    """Whole answers by (path, query string, role), dropped as changes are heard.

    A change to runs drops the answers that show those runs' DAGs' runs (and those that
    show runs of any DAG); a change to runs this cache cannot place (a run it has not
    seen yet) drops every answer that shows runs, and `place_runs` learns where they
    belong; any other change drops everything. An answer computed across a drop of its
    scope is not kept.
    """

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
        self._answers: dict[Key, tuple[Answer, AnswerScope]] = {}
        self._everything = 0
        self._all_runs = 0
        self._runs_of: dict[str, int] = {}
        #: The DAG of each run seen in a note (`place_runs`); a run never changes DAG.
        self._run_dags: dict[int, str] = {}
        #: Runs heard of whose DAG is not known yet.
        self.unplaced: set[int] = set()

    def stamp(self, scope: AnswerScope) -> Stamp:
        if scope.runs_of is None:
            return Stamp(self._everything, 0, 0)
        return Stamp(self._everything, self._all_runs, self._runs_of.get(scope.runs_of, 0))

    def get(self, key: Key) -> Answer | None:
        now = self.now()
        kept = self._answers.get(key)
        if kept is None:
            return None
        answer = kept[0]
        if not answer.stored_at <= now < answer.stored_at + self.max_age:
            del self._answers[key]
            return None
        return answer

    def put(self, key: Key, answer: Answer, scope: AnswerScope, stamp: Stamp) -> None:
        """Keep `answer` unless its scope was dropped since `stamp` was taken."""
        if stamp != self.stamp(scope):
            return
        if len(self._answers) >= self.capacity:
            self._answers.clear()
        self._answers[key] = (answer, scope)

    def invalidate(self) -> None:
        """Drop every answer (and forget where runs belong: a deleted run's id may be
        given again)."""
        self._everything += 1
        self._answers.clear()
        self._run_dags.clear()

    def hear(self, note: Note) -> None:
        """A `ChangeFeed` listener."""
        if note.changes <= _UNSEEN:
            return
        if not note.changes <= _RUN_CHANGES or note.run_pks is None:
            self.invalidate()
            return
        dags = {self._run_dags.get(pk) for pk in note.run_pks}
        if None in dags:
            self.unplaced.update(pk for pk in note.run_pks if pk not in self._run_dags)
            self._drop_runs(None)
            return
        for dag_id in dags:
            self._drop_runs(dag_id)
        self._drop_runs(_ANY_DAG)

    def place_runs(self, dags: dict[int, str], asked: set[int]) -> None:
        """Learn the DAG of runs asked about (`unplaced`); runs not found stay unknown."""
        if len(self._run_dags) + len(dags) > self.capacity * 100:
            self._run_dags.clear()
        self._run_dags.update(dags)
        self.unplaced -= asked

    def _drop_runs(self, dag_id: str | None) -> None:
        """Drop the answers showing runs of `dag_id` (None: of any DAG)."""
        if dag_id is None:
            self._all_runs += 1
        else:
            self._runs_of[dag_id] = self._runs_of.get(dag_id, 0) + 1
        for key, (_, scope) in list(self._answers.items()):
            if scope.runs_of is not None and (dag_id is None or scope.runs_of == dag_id):
                del self._answers[key]

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
        #: The answers being computed, each by one request that the others wait for.
        self._computing: dict[Key, anyio.Event] = {}

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
        query: bytes = scope.get("query_string", b"")
        key = (scope["path"], query, role)
        answer = self.cache.get(key)
        computing = self._computing.get(key)
        if answer is None and computing is not None:
            # One computation per answer at a time: the others wait for it.
            await computing.wait()
            answer = self.cache.get(key)
        if answer is not None:
            await send(
                {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
            )
            await send({"type": "http.response.body", "body": answer.body})
            return
        done = anyio.Event()
        self._computing.setdefault(key, done)
        try:
            await self._place_runs()
            await self._compute(key, scope_of(scope["path"], query), scope, receive, send)
        finally:
            if self._computing.get(key) is done:
                del self._computing[key]
            done.set()

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

    async def _place_runs(self) -> None:
        """Learn the DAGs of the runs changes were heard about, so that their next
        changes drop only those DAGs' answers."""
        if not self.cache.unplaced:
            return
        asked = set(self.cache.unplaced)
        try:
            dags = await api_runs.dags_of_runs(self.db, asked)
        except Exception:  # the database is out of reach: the route answers for itself
            log.debug("could not place runs %s", sorted(asked), exc_info=True)
            return
        self.cache.place_runs(dags, asked)

    async def _compute(
        self, key: Key, shows: AnswerScope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        stamp = self.cache.stamp(shows)
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
                    self.cache.put(key, answer, shows, stamp)
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
        try:
            current = await self.stamps.is_current(self.db, token, now)
        except Exception:  # the database is out of reach: the route answers (503) itself
            log.debug("could not recheck the token of %s", token.username, exc_info=True)
            return None
        if not current:
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
