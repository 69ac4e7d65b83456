"""Column types that behave the same on SQLite and PostgreSQL.

- `UtcDateTime`: timezone-aware datetimes in, timezone-aware UTC datetimes out. SQLite has
  no timezone type, so values are stored there as naive UTC text (which sorts correctly);
  PostgreSQL stores `timestamp with time zone`. A naive datetime is refused on the way in:
  guessing its zone is how schedulers end up an hour off.
- `JSON_DOCUMENT`: JSON, stored as JSONB on PostgreSQL; Python `None` is SQL NULL.
- `UUID_STRING`: a UUID held as its 36-character string; native `uuid` on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSON_DOCUMENT", "UUID_STRING", "UtcDateTime"]


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time: aware datetimes only, always returned in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} cannot be stored: give it a timezone "
                "(for example datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # SQLite (and any column written as naive UTC) comes back without a zone.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSON_DOCUMENT: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

UUID_STRING: TypeEngine[str] = String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
