"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread of its own)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(
        self, count: int, timeout: float = 30
    ) -> list[tuple[str, list[str], EmailMessage]]:
        """At least `count` messages (sender, recipients, message), once they arrived."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} of {count} mails within {timeout}s")
            return list(self.messages)

    def connection_uri(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?disable_ssl=true&disable_tls=true"


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        with self.mailbox.arrived:
            self.mailbox.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
            self.mailbox.arrived.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=_free_port())
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
