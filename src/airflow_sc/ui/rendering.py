"""Turning a template into a response, with the headers every UI page carries.

Templates are autoescaped (every `{{ value }}` is HTML-escaped; nothing in the templates
marks user data `|safe`; `doc_md` goes through the `markdown` filter, whose renderer
escapes raw HTML: `ui.markdown`). The Content-Security-Policy allows only this server's own
scripts and styles: no inline script, no inline style attribute, no other origin.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from airflow_sc.auth import Permission
from airflow_sc.ui.markdown import render_markdown

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "render", "with_security_headers"]

TEMPLATES = Path(__file__).parent / "templates"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = _when
_env.filters["markdown"] = render_markdown
_env.globals["Permission"] = Permission


def with_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def render(template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status_code)
    with_security_headers(response)
    return response
