"""The zygote's inbox: the parent's messages, one per line, read without blocking past a
`select`."""

from __future__ import annotations

import os

from airflow_sc.children.messages import FromZygote, ToZygote, decode

__all__ = ["Inbox"]


class Inbox:
    """Messages from the descriptor `fd` (the zygote's stdin)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self.closed = False

    def fill(self) -> None:
        """Read what is there (call it when `fd` is readable)."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.closed = True
        self._buffer += chunk

    def pop_messages(self) -> list[ToZygote | FromZygote]:
        """The complete messages read so far."""
        *lines, self._buffer = self._buffer.split(b"\n")
        return [decode(line) for line in lines if line.strip()]

    def next_message(self) -> ToZygote | FromZygote | None:
        """Block until one message arrives; None at the end of the input."""
        while True:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.strip():
                    return decode(line)
                continue
            if self.closed:
                return None
            self.fill()
