"""Who may see a page or take an action: the session, its role, and the CSRF check.

A page declares what it needs as a dependency, as API routes do:
`session: Annotated[Session, Depends(page_requires(Permission.DAG_READ))]`. Without a
session the browser is sent to the sign-in page (and back afterwards); a role without the
permission gets a 403 page. The session a page gets carries what the health answer
reports unhealthy (`ui.health`), for the banner. Every state-changing route reads its form
with `checked_form`, which refuses a request without the session's CSRF token.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl, quote

from starlette.requests import Request

from airflow_sc.api.context import ApiContext
from airflow_sc.auth import Permission
from airflow_sc.ui.health import page_health
from airflow_sc.ui.session import CSRF_FIELD, CSRF_HEADER, Session, csrf_matches, read_session

__all__ = [
    "CsrfRejected",
    "Form",
    "PageForbidden",
    "PageRequires",
    "SignInRequired",
    "checked_form",
    "page_requires",
    "safe_next",
]

Form = dict[str, list[str]]


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageForbidden(Exception):
    def __init__(self, session: Session, permission: Permission) -> None:
        super().__init__(permission.value)
        self.session = session
        self.permission = permission


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


def context_of(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def safe_next(raw: str | None) -> str:
    """A same-site path to return to after sign-in; anything else goes to the DAG list."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/dags"
    return raw


class PageRequires:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Session:
        session = await read_session(request, context_of(request))
        if session is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(here)
        if not session.may(self.permission):
            raise PageForbidden(session, self.permission)
        return dataclasses.replace(session, health=await page_health(context_of(request)))


def page_requires(permission: Permission) -> PageRequires:
    return PageRequires(permission)


async def read_form(request: Request) -> Form:
    """An `application/x-www-form-urlencoded` body (the only kind the UI's forms send)."""
    body = (await request.body()).decode(errors="replace")
    form: Form = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        form.setdefault(name, []).append(value)
    return form


async def checked_form(request: Request, session: Session) -> Form:
    form = await read_form(request)
    given = request.headers.get(CSRF_HEADER) or first(form, CSRF_FIELD)
    if not csrf_matches(session.csrf, given):
        raise CsrfRejected
    return form


def first(form: Form, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def sign_in_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")
