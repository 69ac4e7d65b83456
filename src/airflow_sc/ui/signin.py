"""`/login` and `/logout`: the sign-in form over the users and roles of `airflow_sc.auth`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_sc.auth import Permission, authenticate, issue_token
from airflow_sc.ui.access import (
    checked_form,
    context_of,
    first,
    page_requires,
    read_form,
    safe_next,
)
from airflow_sc.ui.rendering import render, with_security_headers
from airflow_sc.ui.session import (
    LOGIN_CSRF_COOKIE,
    Session,
    clear_session_cookie,
    csrf_matches,
    is_tls,
    new_login_csrf,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, next_url: str, error: str | None, status: int) -> Response:
    login_csrf = new_login_csrf()
    response = render(
        "login.html",
        {"session": None, "next_url": next_url, "error": error, "login_csrf": login_csrf},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        login_csrf,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    return _login_page(request, safe_next(next), None, 200)


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = context_of(request)
    form = await read_form(request)
    next_url = safe_next(first(form, "next"))
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), first(form, "csrf_token")):
        return _login_page(request, next_url, "The form expired: please sign in again.", 403)
    user = await authenticate(ctx.db, first(form, "username"), first(form, "password"))
    if user is None:
        return _login_page(request, next_url, "Invalid username or password.", 401)
    raw = issue_token(
        key=ctx.require_signing_key(),
        username=user.username,
        role=user.role,
        now=ctx.clock(),
        lifetime=ctx.token_lifetime,
        stamp=user.stamp,
    )
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(
        response, raw, request=request, max_age=int(ctx.token_lifetime.total_seconds())
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return with_security_headers(response)


@router.post("/logout")
async def logout(
    request: Request, session: Annotated[Session, Depends(page_requires(Permission.DAG_READ))]
) -> Response:
    await checked_form(request, session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request=request)
    return with_security_headers(response)
