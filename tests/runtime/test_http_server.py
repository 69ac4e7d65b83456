"""hypercorn inside the tree: ready when bound, in-flight requests survive a drain."""

import socket

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from airflow_sc.runtime import HttpEndpoint, serve_http

pytestmark = pytest.mark.anyio


class SlowApp:
    """`/slow` answers only once `release` is set; `entered` tells the test it is in flight."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()

        async def slow(request: Request) -> PlainTextResponse:
            self.entered.set()
            await self.release.wait()
            return PlainTextResponse("finished")

        async def fast(request: Request) -> PlainTextResponse:
            return PlainTextResponse("ok")

        self.app = Starlette(routes=[Route("/slow", slow), Route("/fast", fast)])


def port_is_free(port: int) -> bool:
    """Whether a new server can bind the port (as airflow-sc does, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_ready_means_serving_and_port_zero_is_resolved() -> None:
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        endpoint: HttpEndpoint = await tg.start(
            lambda task_status: serve_http(
                SlowApp().app,
                host="127.0.0.1",
                port=0,
                drain_timeout=5,
                shutdown_trigger=stop.wait,
                task_status=task_status,
            )
        )
        assert endpoint.port != 0
        async with httpx.AsyncClient(base_url=endpoint.url) as client:
            assert (await client.get("/fast")).text == "ok"
        stop.set()
    assert port_is_free(endpoint.port)


@pytest.mark.parametrize("how", ["trigger", "cancel"])
async def test_in_flight_request_completes_during_drain(how: str) -> None:
    slow = SlowApp()
    stop = anyio.Event()
    responses: list[httpx.Response] = []
    async with anyio.create_task_group() as tg:
        server_scope = anyio.CancelScope()

        async def run_server(*, task_status: anyio.abc.TaskStatus[HttpEndpoint]) -> None:
            with server_scope:
                await serve_http(
                    slow.app,
                    host="127.0.0.1",
                    port=0,
                    drain_timeout=5,
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )

        endpoint = await tg.start(run_server)

        async def request() -> None:
            async with httpx.AsyncClient(base_url=endpoint.url) as client:
                responses.append(await client.get("/slow"))

        tg.start_soon(request)
        await slow.entered.wait()
        if how == "trigger":
            stop.set()
        else:
            server_scope.cancel()
        await anyio.lowlevel.checkpoint()
        slow.release.set()
    assert [r.text for r in responses] == ["finished"]
    assert port_is_free(endpoint.port)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=endpoint.url) as client:
            await client.get("/fast")


async def test_drain_is_bounded_by_timeout() -> None:
    slow = SlowApp()  # never released: the drain must give up after drain_timeout
    stop = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            endpoint = await tg.start(
                lambda task_status: serve_http(
                    slow.app,
                    host="127.0.0.1",
                    port=0,
                    drain_timeout=0.2,
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )
            )

            async def request() -> None:
                async with httpx.AsyncClient(base_url=endpoint.url) as client:
                    try:
                        response = await client.get("/slow")
                    except httpx.RemoteProtocolError:
                        return  # trio: the connection is closed
                    assert response.status_code == 500  # asyncio: hypercorn answers 500

            tg.start_soon(request)
            await slow.entered.wait()
            stop.set()
    assert port_is_free(endpoint.port)
