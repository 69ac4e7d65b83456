"""The session cookie's flags and the CSRF token, without a server."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from airflow_sc.ui.access import safe_next
from airflow_sc.ui.session import csrf_matches, csrf_token, set_session_cookie


def request(scheme: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "path": "/",
            "headers": [(b"host", b"ui.example")],
            "query_string": b"",
        }
    )


def test_the_cookie_is_secure_over_tls_only() -> None:
    for scheme, secure in (("https", True), ("http", False)):
        response = Response()
        set_session_cookie(response, "token", request=request(scheme), max_age=60)
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert ("Secure" in cookie) is secure


def test_csrf_tokens_belong_to_one_session_and_one_key() -> None:
    token = csrf_token("key", "session-a")
    assert csrf_matches(token, csrf_token("key", "session-a"))
    assert not csrf_matches(token, csrf_token("key", "session-b"))
    assert not csrf_matches(token, csrf_token("other key", "session-a"))
    assert not csrf_matches(token, None)
    assert not csrf_matches(token, "")


def test_only_same_site_paths_are_returned_to() -> None:
    assert safe_next("/dags/x?runs=5") == "/dags/x?runs=5"
    for bad in (None, "", "https://evil.example", "//evil.example", "/\\\\evil", "dags"):
        assert safe_next(bad) == "/dags"
