"""`create_web_app`: the REST API's app (`airflow_sc.api.create_app`) with the UI added.

The UI's pages are at the root (`/dags`, `/login`, ...), its files under `/ui-static/`.
Both halves share one `ApiContext` (database, users, signing key, masker, clock), so a
page shows what the API would answer and an action in one is an action in the other.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from airflow_sc.api.app import create_app
from airflow_sc.api.context import ApiContext
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.ui import (
    admin,
    browse,
    calendar,
    dag_list,
    dag_page,
    dag_views,
    gantt,
    health_page,
    signin,
    task_actions,
    task_logs,
    trigger,
)
from airflow_sc.ui.access import CsrfRejected, PageForbidden, SignInRequired, sign_in_url
from airflow_sc.ui.rendering import render, with_security_headers

__all__ = ["STATIC_PREFIX", "create_web_app"]

STATIC_PREFIX = "/ui-static"
ROUTERS = (
    signin.router,
    dag_list.router,
    dag_page.router,
    dag_views.router,
    task_actions.router,
    task_logs.router,
    trigger.router,
    admin.router,
    health_page.router,
    browse.router,
    calendar.router,
    gantt.router,
)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return with_security_headers(RedirectResponse(sign_in_url(exc.next_url), status_code=303))


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    role = exc.session.token.role.value
    return render(
        "message.html",
        {
            "session": exc.session,
            "title": "Not allowed",
            "message": f"The {role} role may not {exc.permission.value}.",
        },
        status_code=403,
    )


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return render(
        "message.html",
        {
            "session": None,
            "title": "Request refused",
            "message": "The form's CSRF token is missing or wrong: reload the page and retry.",
        },
        status_code=403,
    )


def create_web_app(ctx: ApiContext, *, changes: ChangeFeed | None = None) -> FastAPI:
    """The API and the UI in one app. `changes` is the process's change feed, which the
    live pages follow; without one they show what was current when loaded."""
    app = create_app(ctx)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(packages=[("airflow_sc.ui", "static")]), name="ui-static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageForbidden, _forbidden)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.state.changes = changes
    return app
