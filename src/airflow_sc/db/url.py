"""One metadata URL in, the driver URLs each adapter needs out.

Users write `sqlite:///path` or `postgresql://user:pass@host/db`; the async driver is
inferred (AIP-70: "infer an asynchronous connection from the metadata connection").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import URL, make_url

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    url: URL

    @classmethod
    def parse(cls, raw: str) -> DatabaseUrl:
        url = make_url(raw)
        backend = url.get_backend_name()
        if backend == "postgres":
            url = url.set(drivername="postgresql")
        elif backend not in ("sqlite", "postgresql"):
            shown = url.render_as_string(hide_password=True)
            raise ValueError(f"unsupported database URL {shown!r}: expected sqlite or postgresql")
        return cls(url)

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def sync_url(self) -> URL:
        """URL for a synchronous engine: sqlite3 or psycopg 3."""
        if self.dialect == "sqlite":
            return self.url.set(drivername="sqlite+pysqlite")
        return self.url.set(drivername="postgresql+psycopg")

    @property
    def asyncio_url(self) -> URL:
        """URL for SQLAlchemy's asyncio extension (asyncpg); PostgreSQL only."""
        if self.dialect != "postgresql":
            raise ValueError("the native asyncio adapter serves PostgreSQL only")
        return self.url.set(drivername="postgresql+asyncpg")

    @property
    def sqlite_path(self) -> str | None:
        """File path of an SQLite database, None for in-memory or PostgreSQL."""
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return self.url.database

    def redacted(self) -> str:
        """The URL with its password hidden, for logs and CLI output."""
        return self.url.render_as_string(hide_password=True)
