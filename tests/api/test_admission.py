"""`AdmitRequests`: at most `limit` requests worked on at once; the others wait their turn
(never refused), a turn ends when the response starts, the execution API is not counted."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from starlette.types import Message, Receive, Scope, Send

from airflow_sc.api.admission import AdmitRequests

pytestmark = pytest.mark.anyio


class Handlers:
    """An ASGI app whose requests each wait for their own event before answering."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release: dict[str, anyio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"]
        self.entered.append(name)
        await self.release.setdefault(name, anyio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # After the start the turn is free again, even while the body is still to come.
        await self.release.setdefault(name + ":body", anyio.Event()).wait()
        await send({"type": "http.response.body", "body": b"ok"})


def http(path: str) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": []}


async def request(app: AdmitRequests, path: str, answers: list[tuple[str, int]]) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answers.append((path, message["status"]))

    await app(http(path), receive, send)


async def wait_until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await anyio.lowlevel.checkpoint()


async def test_requests_past_the_limit_wait_their_turn_in_order() -> None:
    handlers = Handlers()
    app = AdmitRequests(handlers, limit=1, exempt_prefixes=("/execution",))
    answers: list[tuple[str, int]] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(request, app, "/a", answers)
            await wait_until(lambda: handlers.entered == ["/a"])
            for queued, path in enumerate(("/b", "/c"), start=1):
                tg.start_soon(request, app, path, answers)
                await wait_until(lambda queued=queued: app.waiting == queued)
            # The execution API passes the queue.
            tg.start_soon(request, app, "/execution/x", answers)
            await wait_until(lambda: "/execution/x" in handlers.entered)
            assert app.in_flight == 1
            for name in ("/a", "/b"):
                handlers.release.setdefault(name, anyio.Event()).set()
                # The response started: the next request is admitted before this body.
                nxt = {"/a": "/b", "/b": "/c"}[name]
                await wait_until(lambda nxt=nxt: nxt in handlers.entered)
            assert handlers.entered == ["/a", "/execution/x", "/b", "/c"]
            for name in list(handlers.release):
                handlers.release[name].set()
            for name in ("/a:body", "/b:body", "/c", "/c:body", "/execution/x:body"):
                handlers.release.setdefault(name, anyio.Event()).set()
    assert sorted(answers) == [("/a", 200), ("/b", 200), ("/c", 200), ("/execution/x", 200)]
    assert app.in_flight == 0


async def test_a_failing_request_gives_its_turn_back() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    app = AdmitRequests(failing, limit=1)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await request(app, "/x", [])
    assert app.in_flight == 0
