"""Errors the database layer raises on its own account (driver errors pass through)."""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The metadata database could not be reached when it was opened."""

    def __init__(self, url: str, cause: BaseException) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"the metadata database {url} is unreachable: {describe_cause(cause)}")


def describe_cause(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement dump and help links."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    message = " ".join(str(source).split())
    return f"{type(source).__name__}: {message}" if message else type(source).__name__
