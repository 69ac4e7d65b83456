"""The one place the REST API checks what comes in, before any route parses or writes it.

`GuardRequestInput` is ASGI middleware in front of every REST API route:

- The body is read at most `api.max_request_body_size` bytes far: a larger Content-Length
  gets 413 before anything is read, a body streamed without one gets 413 as soon as it
  passes the limit. Nothing unbounded is buffered.
- A JSON body (or one without a content type, which FastAPI reads as JSON) is decoded once
  here and refused with 400 when it nests deeper than `api.max_request_json_depth`, holds
  NaN or Infinity, or when any key or string value, at any depth, holds a NUL character
  or an unpaired surrogate (`airflow_sc.domain.json_values`). A form body's fields, the URL
  path (path parameters) and the query parameters are checked for the same characters.
- What is not valid JSON is left to the route, which answers 422 as Airflow does.

The route then reads the same bytes again (the body is replayed), so models and writes see
only what passed. Paths under `exempt_prefixes` pass through untouched: the execution API,
whose arguments arrive over HTTP and over the local executor's pipe alike, so a rule for them
belongs in its protocol parser, not here.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_sc.domain.json_values import document_problem, renderable_text, text_problem

__all__ = ["GuardRequestInput"]

_JSON_TYPES: Final = frozenset({"", "application/json"})
_FORM_TYPE: Final = "application/x-www-form-urlencoded"


class _NotAJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotAJsonNumber(name)


class GuardRequestInput:
    """Refuse oversized, too deep or invalid-text requests with Airflow's `{"detail": ...}`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_size: int,
        max_json_depth: int,
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.max_json_depth = max_json_depth
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if (problem := _url_problem(scope)) is not None:
            await _refuse(send, 400, problem)
            return
        headers = _headers(scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "Content-Length is not a number of bytes")
                return
            if int(declared) > self.max_body_size:
                await _refuse(send, 413, self._too_large())
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                await _refuse(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if (problem := self._body_problem(content_type, body)) is not None:
            await _refuse(send, 400, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return (
            f"Request body is larger than {self.max_body_size} bytes, "
            "the limit set by api.max_request_body_size"
        )

    def _body_problem(self, content_type: str, body: bytes) -> str | None:
        if not body:
            return None
        if content_type == _FORM_TYPE:
            return _fields_problem(parse_qsl(body.decode(errors="replace"), True), "form")
        if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
            return None
        try:
            document = json.loads(body, parse_constant=_refuse_constant)
        except RecursionError:
            return f"body: nested deeper than {self.max_json_depth} levels"
        except _NotAJsonNumber:
            return "body: NaN and Infinity are not JSON numbers"
        except ValueError:
            return None  # not JSON: the route answers 422 with the parser's reason
        return document_problem(document, max_depth=self.max_json_depth)


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _url_problem(scope: Scope) -> str | None:
    if (problem := text_problem(scope["path"])) is not None:
        return f"URL path: {problem}"
    query = scope.get("query_string", b"").decode("latin-1")
    return _fields_problem(parse_qsl(query, keep_blank_values=True), "query parameter")


def _fields_problem(fields: list[tuple[str, str]], kind: str) -> str | None:
    for name, value in fields:
        if (problem := text_problem(name)) is not None:
            return f"{kind} name {name!r}: {problem}"
        if (problem := text_problem(value)) is not None:
            return f"{kind} {name!r}: {problem}"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the real channel (a
    disconnect, for streaming responses that watch for one)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send: Send, status: int, detail: str) -> None:
    content = json.dumps({"detail": renderable_text(detail)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if status == 413:
        # The rest of the body is never read: the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
