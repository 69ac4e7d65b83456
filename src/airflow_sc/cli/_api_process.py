"""The API server in a child process of `airflow-sc run` (`api.separate_process`).

In one process the API's HTTP work (hypercorn reading and writing sockets, JSON) and the
scheduler share one event loop and one GIL; under load the API starves the scheduler.
With `api.separate_process` (the default) the `api` component of `airflow-sc run` is a
supervisor, `serve_api_process`, of a child running ``airflow-sc api-server`` (the same
home, settings and keys, inherited through the environment and the working directory):

- start: the supervisor binds the listening socket (so the URL is known and a busy port
  fails the start here) and passes it to the child with one end of a socket pair, the
  control channel; the child serves on that socket and writes ``ready`` on the channel
  once it serves. The component is started (its handle carries the URL) only then.
- wake-ups: the child runs no scheduler, so what it announces goes to the schedulers as
  from any such process (PostgreSQL NOTIFY, or the SQLite scheduler's socket); it binds
  its own datagram socket (`wake_socket_path(home, "api")`), to which the supervising
  process sends every note its feed announces (scheduler, DAG processor, execution
  service) through a `SocketPublisher` (coalesced, waiting while the child's queue is
  full, never dropped), so the child's list cache and live pages hear them at once.
- stop: when the drain of `airflow-sc run` starts, the supervisor writes ``quiesce``: the
  child refuses writes (503, as one process does while draining) and ends its live
  streams, but serves on; at the `api` component's turn in the drain (after the scheduler
  and its executors, whose tries report to it), it writes ``drain`` on the channel; the
  child drains its HTTP server (`api.drain_timeout`) and exits. If it outlives that by
  5 s, it gets SIGTERM, then SIGKILL. A child that exits on its own while the supervisor
  runs is a failure of the `api` component (not restarted: the process stops as for any
  failed component). The child is in a session of
  its own, so a terminal's Ctrl-C reaches only the supervisor, which orders the drain; the
  child also drains when the channel closes, so it never outlives a supervisor killed
  with -9.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import anyio
import sniffio
from anyio.abc import Process, TaskStatus

from airflow_sc.config import Settings
from airflow_sc.runtime import HttpEndpoint, Shutdown
from airflow_sc.runtime.http_server import bind_socket
from airflow_sc.scheduler.changes.local_socket import SocketPublisher

__all__ = ["ApiChildOptions", "serve_api_process", "serve_control_channel"]

log = logging.getLogger("airflow_sc")

READY = b"ready\n"
QUIESCE = b"quiesce\n"
DRAIN = b"drain\n"
#: `Shutdown.reason` in the child while `airflow-sc run` drains its other components.
QUIESCE_REASON = "airflow-sc run is draining"


class ApiChildOptions:
    """What the supervisor hands the child: its listening socket, its control channel,
    where to receive notes (file descriptors inherited, a socket path)."""

    def __init__(self, listen_fd: int, control_fd: int, notes_socket: Path) -> None:
        self.listen_fd = listen_fd
        self.control_fd = control_fd
        self.notes_socket = notes_socket

    def arguments(self) -> list[str]:
        return [
            "--listen-fd",
            str(self.listen_fd),
            "--control-fd",
            str(self.control_fd),
            "--notes-socket",
            str(self.notes_socket),
        ]


async def serve_api_process(
    settings: Settings,
    notes: SocketPublisher,
    shutdown: Shutdown,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[HttpEndpoint],
) -> None:
    """Run ``airflow-sc api-server`` as a child serving on a socket bound here; started once
    it serves; drained when `shutdown_trigger()` returns; raise if it exits on its own.
    `notes` carries this process's feed to the child while it runs."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(notes.run)
        await _serve_child(
            settings,
            notes.path,
            shutdown,
            shutdown_trigger=shutdown_trigger,
            task_status=task_status,
        )
        tg.cancel_scope.cancel()


async def _serve_child(
    settings: Settings,
    notes_socket: Path,
    shutdown: Shutdown,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[HttpEndpoint],
) -> None:
    listener = bind_socket(settings.api.host, settings.api.port)
    host, port = listener.getsockname()[:2]
    endpoint = HttpEndpoint(host, port)
    control, child_control = socket.socketpair()
    try:
        options = ApiChildOptions(listener.fileno(), child_control.fileno(), notes_socket)
        command = [
            sys.executable,
            "-m",
            "airflow_sc",
            "api-server",
            "--backend",
            sniffio.current_async_library(),
            *options.arguments(),
        ]
        process = await anyio.open_process(
            command,
            stdin=None,
            stdout=None,
            stderr=None,
            pass_fds=(listener.fileno(), child_control.fileno()),
            start_new_session=True,
        )
    except BaseException:
        control.close()
        raise
    finally:
        listener.close()
        child_control.close()
    control.setblocking(False)
    try:
        with control:
            await _wait_ready(control, process)
            log.info("API server process %d serving on %s", process.pid, endpoint.url)
            task_status.started(endpoint)
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    await process.wait()
                    tg.cancel_scope.cancel()

                async def quiesce() -> None:
                    # This process's drain started: the API refuses writes from now on, as
                    # in one process, and serves on until its turn (`shutdown_trigger`).
                    await shutdown.wait_drain()
                    with suppress(OSError):
                        control.send(QUIESCE)

                tg.start_soon(watch)
                tg.start_soon(quiesce)
                await shutdown_trigger()
                tg.cancel_scope.cancel()
            if process.returncode is not None:
                raise RuntimeError(f"the API server process exited with code {process.returncode}")
            with suppress(OSError):
                control.send(DRAIN)
            with anyio.move_on_after(settings.api.drain_timeout + 5):
                code = await process.wait()
                if code != 0:
                    raise RuntimeError(f"the API server process exited with code {code}")
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)


async def _wait_ready(control: socket.socket, process: Process) -> None:
    received = b""
    while not received.endswith(b"\n"):
        await anyio.wait_readable(control)
        try:
            chunk = control.recv(64)
        except BlockingIOError:
            continue
        if not chunk:
            code = await process.wait()
            raise RuntimeError(f"the API server process exited with code {code} before serving")
        received += chunk
    if received != READY:
        raise RuntimeError(f"the API server process said {received!r} instead of ready")


async def _stop(process: Process) -> None:
    """The child gone: terminated (then killed) if it still runs."""
    if process.returncode is not None:
        return
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    with anyio.move_on_after(5):
        await process.wait()
        return
    with suppress(ProcessLookupError):
        process.kill()
    await process.wait()


async def serve_control_channel(
    control: socket.socket, shutdown: Shutdown, stop: anyio.Event, *, grace: float
) -> None:
    """The child's side, until cancelled: ``quiesce`` starts the drain of `shutdown` (writes
    refused, live streams ended; the server still answers), ``drain`` or the supervisor
    going away (end of the channel) also sets `stop` (the HTTP server drains and exits)."""
    control.setblocking(False)
    while True:
        await anyio.wait_readable(control)
        try:
            chunk = control.recv(64)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if QUIESCE in chunk:
            shutdown.request_drain(QUIESCE_REASON, grace=grace)
            log.info("API server process: refusing writes while airflow-sc run drains")
        if not chunk or DRAIN in chunk:
            shutdown.request_drain("supervisor" if chunk else "supervisor gone", grace=grace)
            stop.set()
            return
