"""Error responses in Airflow's shape: `{"detail": ...}` with the right status.

- `HTTPException` from a route: its status and detail (404 unknown id, 409 conflict, ...).
- Request validation: 422 with FastAPI's list of errors (as Airflow).
- Database busy, locked, unreachable or timed out: 503 with `Retry-After`, never a 500.
- A constraint violation that a route did not foresee (a concurrent write won): 409.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from airflow_sc.db.queries.api_errors import DATABASE_ERRORS, classify_database_error

__all__ = [
    "RETRY_AFTER_SECONDS",
    "HTTPExceptionResponse",
    "error_responses",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 5


class HTTPExceptionResponse(BaseModel):
    """The body of every error response but 422."""

    detail: str | dict[str, Any]


_DESCRIPTIONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    503: "Service Unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route; 401 and 403 are always included."""
    wanted = sorted({401, 403, *codes})
    return {
        code: {"model": HTTPExceptionResponse, "description": _DESCRIPTIONS[code]}
        for code in wanted
    }


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    kind = classify_database_error(exc)
    if kind == "unavailable":
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "the metadata database is busy or unreachable; retry later"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if kind == "conflict":
        return JSONResponse(
            {"detail": "the write conflicts with existing data (a unique or foreign key)"},
            status_code=409,
        )
    if kind == "invalid":
        return JSONResponse(
            {"detail": "a value does not fit its database column (too long or out of range)"},
            status_code=400,
        )
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, _database_error)
