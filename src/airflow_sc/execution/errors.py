"""Why the execution protocol refused a call: one exception per answer, with its status.

The statuses mean the same on every transport (the HTTP routes answer them as HTTP
statuses; the local channel puts them in its answer's ``status``).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequest",
    "ExecutionError",
    "Forbidden",
    "NotFound",
    "NotImplementedHere",
    "TooLarge",
    "TryConflict",
    "TryNotFound",
    "Unauthorized",
]


class ExecutionError(Exception):
    """A refused call: `status` (HTTP-ish) and a `detail` a user can read."""

    status: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ExecutionError):
    """The operation is unknown or its arguments are not what it takes (400)."""

    status = 400


class TooLarge(ExecutionError):
    """The call's body is larger than the transport reads (413)."""

    status = 413


class Unauthorized(ExecutionError):
    """The token is missing, forged or expired (401)."""

    status = 401


class Forbidden(ExecutionError):
    """The token belongs to another try, or the call reaches beyond the try (403)."""

    status = 403


class NotFound(ExecutionError):
    """There is nothing there: an XCom, a variable, a connection (404)."""

    status = 404


class TryNotFound(NotFound):
    """No task instance holds this try (404)."""

    def __init__(self, ti_id: str) -> None:
        super().__init__(f"no task instance try {ti_id}")
        self.ti_id = ti_id


class TryConflict(ExecutionError):
    """The task instance no longer holds this try in the state the call needs (409)."""

    status = 409


class NotImplementedHere(ExecutionError):
    """This deployment's execution service does not offer the operation (501)."""

    status = 501
