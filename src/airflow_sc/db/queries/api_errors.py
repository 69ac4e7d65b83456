"""How the API answers a database error: classification only (the API imports no SQLAlchemy)."""

from __future__ import annotations

from typing import Final, Literal

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from airflow_sc.db.errors import DatabaseUnavailable
from airflow_sc.db.retry import is_transient

__all__ = ["DATABASE_ERRORS", "DatabaseErrorKind", "classify_database_error"]

DatabaseErrorKind = Literal["unavailable", "conflict", "invalid", "bug"]

#: Exception classes the API installs a handler for.
DATABASE_ERRORS: Final[tuple[type[Exception], ...]] = (
    DBAPIError,
    DatabaseUnavailable,
    ConnectionError,
    # sqlite3 raises it unwrapped for an integer beyond 64 bits.
    OverflowError,
)


def classify_database_error(exc: BaseException) -> DatabaseErrorKind:
    """`unavailable` (busy, locked, lost, timed out: retry later), `conflict` (a
    constraint refused the write), `invalid` (a value the column cannot hold), or `bug`."""
    if isinstance(exc, DatabaseUnavailable | ConnectionError) or is_transient(exc):
        return "unavailable"
    if isinstance(exc, IntegrityError):
        return "conflict"
    if isinstance(exc, DataError | OverflowError):
        return "invalid"
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and (exc.connection_invalidated or _server_side(exc))
    ):
        return "unavailable"
    return "bug"


#: SQLSTATE classes that say the server cannot serve now, not that the statement is wrong:
#: connection exception, invalid authorization, invalid catalog (database dropped),
#: insufficient resources (too many connections), operator intervention (shutdown,
#: statement timeout).
_UNAVAILABLE_CLASSES: Final = frozenset({"08", "28", "3D", "53", "57"})
#: lock_not_available: a `lock_timeout` or `NOWAIT` gave up waiting for another writer.
_UNAVAILABLE_STATES: Final = frozenset({"55P03"})


def _server_side(exc: DBAPIError) -> bool:
    for source in (exc.orig, getattr(exc.orig, "__cause__", None)):
        sqlstate = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_STATES
        ):
            return True
    # asyncpg reports a failed connect as a bare DBAPIError (no more specific class).
    return type(exc) is DBAPIError
