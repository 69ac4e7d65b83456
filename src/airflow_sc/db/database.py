"""The async database port: what every component uses to reach the metadata database.

Two adapters implement it (`_native.py`: SQLAlchemy's asyncio extension on asyncpg;
`_threaded.py`: a sync engine with every call offloaded to a worker thread). Callers see
only `Database`, `Transaction` and buffered `Rows`, so the same code runs on asyncio and
trio, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.sql import Executable

from airflow_sc.db.reachability import Reachability
from airflow_sc.db.url import DatabaseUrl, Dialect

if TYPE_CHECKING:
    from airflow_sc.db.retry import RetryPolicy

T = TypeVar("T")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
AdapterName = Literal["native", "thread"]


class Rows:
    """A fully buffered statement result: reading it never touches the database."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row[Any]], rowcount: int) -> None:
        self._rows = rows
        #: Rows matched by an UPDATE/DELETE (driver-reported), -1 when unknown.
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Row[Any]]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def all(self) -> list[Row[Any]]:
        return list(self._rows)

    def first(self) -> Row[Any] | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row[Any]:
        if len(self._rows) != 1:
            if not self._rows:
                raise NoResultFound("no row was found when one was required")
            raise MultipleResultsFound("multiple rows were found when exactly one was required")
        return self._rows[0]

    def one_or_none(self) -> Row[Any] | None:
        if len(self._rows) > 1:
            raise MultipleResultsFound("multiple rows were found when one or none was required")
        return self.first()

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def mappings(self) -> list[RowMapping]:
        return [row._mapping for row in self._rows]


class Transaction(ABC):
    """One database transaction on one held connection.

    Obtained from `Database.transaction()` or `Database.run()`; committed when the block
    ends normally, rolled back on error or cancellation.
    """

    dialect: Dialect

    @abstractmethod
    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        """Run a statement (a sequence of parameter mappings runs it as executemany)."""

    async def scalar(self, statement: Executable, parameters: Parameters = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Executable, parameters: Parameters = None) -> list[Any]:
        return (await self.execute(statement, parameters)).scalars()


@dataclass(frozen=True, slots=True)
class DatabaseStatistics:
    adapter: AdapterName
    dialect: Dialect
    pool_size: int
    checked_out: int
    transactions: int
    retries: int


class Database(ABC):
    """The metadata database, opened with `airflow_sc.db.open_database`.

    `run` retries under `retry_policy`; `with_retry` gives a view of the same database (same
    pool, same `reachability`) with another policy, e.g. bounded for API requests in a
    process whose components wait out an outage.
    """

    url: DatabaseUrl
    adapter: AdapterName
    #: Whether the database answers, as this process last saw it (shared by every view).
    reachability: Reachability
    retry_policy: RetryPolicy

    @property
    def dialect(self) -> Dialect:
        return self.url.dialect

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        """A transaction; `write=False` promises no writes (SQLite then skips the write lock).

        Not retried: use `run` where a transient failure should be retried.
        """

    async def run(self, body: Callable[[Transaction], Awaitable[T]], *, write: bool = True) -> T:
        """Run `body` in a transaction, retrying the whole transaction on transient errors."""
        from airflow_sc.db.retry import run_with_retry

        return await run_with_retry(self, body, write=write, policy=self.retry_policy)

    def with_retry(self, policy: RetryPolicy) -> Database:
        """This database, with `run` retrying under `policy`."""
        return _RetryView(self, policy)

    @abstractmethod
    def statistics(self) -> DatabaseStatistics: ...

    @abstractmethod
    async def aclose(self) -> None:
        """Dispose of the pool; idempotent."""


class _RetryView(Database):
    """A `Database` sharing another's pool and reachability, with its own retry policy."""

    def __init__(self, base: Database, policy: RetryPolicy) -> None:
        self._base: Database = base._base if isinstance(base, _RetryView) else base
        self.url = base.url
        self.adapter = base.adapter
        self.reachability = base.reachability
        self.retry_policy = policy

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        return self._base.transaction(write=write)

    def record_retry(self) -> None:
        record = getattr(self._base, "record_retry", None)
        if record is not None:
            record()

    def statistics(self) -> DatabaseStatistics:
        return self._base.statistics()

    async def aclose(self) -> None:
        """Nothing: the database is closed by whoever opened it."""
