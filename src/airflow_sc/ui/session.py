"""The UI's sign-in session: a cookie holding an API access token, and CSRF tokens.

The cookie carries the same JWT `POST /auth/token` issues (same signing key, lifetime and
credential stamp), so a session ends when its user is deleted or changes role or password,
exactly as an API token does. It is HttpOnly, SameSite=Lax, and Secure when the request
came over TLS. A state-changing request must carry the session's CSRF token (a form field
or the `X-CSRF-Token` header): an HMAC of the session token under the signing key, so it
needs no server-side state and a token of one session is worthless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.api.context import ApiContext
from airflow_sc.auth import AccessToken, InvalidToken, Permission, decode_token, role_allows

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "Session",
    "clear_session_cookie",
    "csrf_token",
    "new_login_csrf",
    "read_session",
    "set_session_cookie",
]

SESSION_COOKIE = "airflow_sc_session"
#: Before sign-in there is no session to bind a CSRF token to: the sign-in form carries a
#: random value that must equal this cookie's (double submit).
LOGIN_CSRF_COOKIE = "airflow_sc_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who, and the CSRF token its forms carry."""

    token: AccessToken
    csrf: str
    #: What the health answer reported unhealthy when this request's page was checked
    #: (the banner every page shows; `ui.health`).
    health: tuple[str, ...] = ()

    def may(self, permission: Permission) -> bool:
        return role_allows(self.token.role, permission)


def csrf_token(key: str, raw_session: str) -> str:
    digest = hmac.new(key.encode(), b"csrf\0" + raw_session.encode(), hashlib.sha256)
    return digest.hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


async def read_session(request: Request, ctx: ApiContext) -> Session | None:
    """The request's session, if its cookie holds a valid, current token."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    key = ctx.require_signing_key()
    now = ctx.clock()
    try:
        token = decode_token(raw, key=key, now=now)
    except InvalidToken:
        return None
    if not await ctx.user_stamps.is_current(ctx.db, token, now):
        return None
    return Session(token, csrf_token(key, raw))


def set_session_cookie(response: Response, raw: str, *, request: Request, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_tls(request),
    )


def clear_session_cookie(response: Response, *, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_tls(request)
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")
