"""A try's HTTP channel rides out a server that is briefly unavailable: real local HTTP
servers on 127.0.0.1 that answer 503 (then 200), or that are not listening yet."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_sc.task_runner.call_retry import (
    MAX_DELAY,
    RETRY_AFTER_CAP,
    Failure,
    next_delay,
    retry_after_seconds,
)
from airflow_sc.task_runner.http_client import ExecutionApiClient, ExecutionApiError


class Script:
    """What the server answers, in order; the last answer repeats."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def next(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.seen.append((method, path))
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def handler_for(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            status, headers = script.next(self.command, self.path)
            body = (
                json.dumps({"key": "greeting", "value": "hello"})
                if status == 200
                else json.dumps({"detail": "the metadata database is unreachable"})
            ).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = do_PUT = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(script: Script, port: int = 0) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


UNAVAILABLE = (503, {"retry-after": "0"})
OK = (200, {})


def test_a_call_answered_503_is_sent_again_until_it_succeeds() -> None:
    script = Script(UNAVAILABLE, UNAVAILABLE, (503, {}), OK)
    with serving(script) as url:
        client = ExecutionApiClient(url, ti_id="t1", token="x", retry_for=30)
        try:
            assert client.get_variable("greeting") == "hello"
        finally:
            client.close()
    assert script.seen == [("GET", "/variables/greeting")] * 4


def test_a_write_answered_503_is_sent_again_too() -> None:
    # 503 means the server did not act on it: a finish may be sent again.
    script = Script(UNAVAILABLE, (204, {}))
    with serving(script) as url:
        client = ExecutionApiClient(url, ti_id="t1", token="x", retry_for=30)
        try:
            client.set_variable("k", "v")
        finally:
            client.close()
    assert [method for method, _ in script.seen] == ["PUT", "PUT"]


def test_the_retries_stop_at_the_window_and_the_503_is_the_answer() -> None:
    script = Script(UNAVAILABLE)
    with serving(script) as url:
        client = ExecutionApiClient(url, ti_id="t1", token="x", retry_for=0.3)
        try:
            with pytest.raises(ExecutionApiError) as failed:
                client.get_variable("greeting")
        finally:
            client.close()
    assert failed.value.status == 503
    assert "the metadata database is unreachable" in str(failed.value)
    assert len(script.seen) > 1


class _Noticed(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "did not answer" in record.getMessage():
            self.event.set()


def test_a_server_not_listening_yet_is_waited_for() -> None:
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    noticed = _Noticed()
    logger = logging.getLogger("airflow_sc.task_runner.http_client")
    logger.addHandler(noticed)
    result: list[Any] = []
    client = ExecutionApiClient(f"http://127.0.0.1:{port}", ti_id="t1", token="x", retry_for=30)
    call = threading.Thread(target=lambda: result.append(client.get_variable("greeting")))
    try:
        call.start()
        assert noticed.event.wait(10), "the client never retried"
        with serving(Script(OK), port):  # the server comes up: the next attempt gets in
            call.join(30)
    finally:
        logger.removeHandler(noticed)
        client.close()
    assert result == ["hello"]


NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def delay(failure: Failure, attempt: int = 1, elapsed: float = 0.0, window: float = 60.0) -> Any:
    return next_delay(failure, attempt, elapsed=elapsed, window=window, jitter=0.5, now=NOW)


def test_which_failures_are_retried() -> None:
    assert delay(Failure("GET", 503)) is not None
    assert delay(Failure("PATCH", 503)) is not None  # refused unread: safe to send again
    assert delay(Failure("PATCH", not_sent=True)) is not None
    assert delay(Failure("GET", maybe_sent=True)) is not None
    assert delay(Failure("PUT", maybe_sent=True)) is not None
    # A start or finish that may have arrived is not sent twice (compare-and-set).
    assert delay(Failure("PATCH", maybe_sent=True)) is None
    assert delay(Failure("POST", maybe_sent=True)) is None
    assert delay(Failure("GET", 500)) is None


def test_backoff_is_capped_retry_after_honoured_and_the_window_bounds_all() -> None:
    assert delay(Failure("GET", not_sent=True), attempt=1) == pytest.approx(0.075)
    assert delay(Failure("GET", not_sent=True), attempt=40) == pytest.approx(MAX_DELAY * 0.75)
    assert delay(Failure("GET", 503, "7")) == 7.0
    http_date = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert delay(Failure("GET", 503, http_date)) == 12.0
    assert delay(Failure("GET", 503, "3600")) == RETRY_AFTER_CAP
    assert delay(Failure("GET", 503, "7"), elapsed=58.0) == 2.0  # what is left of it
    assert delay(Failure("GET", 503, "7"), elapsed=60.0) is None
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None
