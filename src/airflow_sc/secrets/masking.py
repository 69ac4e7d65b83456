"""Masking secrets in logs, rendered templates, API responses and CLI output.

A `SecretsMasker` holds the secret values it has been given and replaces each occurrence
by `***`. A value is masked in the forms it commonly takes on the way to a log line: as
is, percent-encoded (`quote`, with or without `/` kept, upper or lower hex), form-encoded
(`quote_plus`), JSON-escaped, Python-`repr`-escaped, and, for a multi-line value (a
private key), line by line. `redact` walks nested structures and also hides every value
under a key that looks sensitive (`password`, `api_key`, ...), whether registered or not.

Values shorter than `min_length` are not registered (as in Airflow, where masking every
"abc" would mangle logs more than it protects); keys still hide short values.

`MaskedStream` masks text written in pieces: it holds back the tail that could be the
start of a secret until the next write shows whether it is, so a secret split across
writes is still masked. The masker is pure (no I/O) and thread-safe.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

from airflow_sc.secrets.connection import Connection

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "MASK",
    "MaskedStream",
    "SecretsMasker",
    "SecretsMaskingFilter",
    "mask_stream",
]

MASK: Final = "***"

#: A key containing any of these (case-insensitive) hides its value.
DEFAULT_SENSITIVE_KEYS: Final = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
    }
)

#: Nesting deeper than this is returned as is by `redact` (guards against cycles).
_MAX_DEPTH: Final = 20
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _forms(secret: str) -> set[str]:
    """The spellings of `secret` that are masked."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }
    forms |= {_PERCENT.sub(lambda m: m.group(0).lower(), form) for form in forms}
    return forms


class SecretsMasker:
    """Registered secrets and sensitive key names; replaces them by `***`."""

    def __init__(
        self,
        *,
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        min_length: int = 5,
    ) -> None:
        self.sensitive_keys = frozenset(k.lower() for k in sensitive_keys)
        self.min_length = min_length
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0

    # -- registering -------------------------------------------------------------------

    def add_sensitive_keys(self, names: Iterable[str]) -> None:
        """Also hide values under keys containing any of `names` (configured at start-up)."""
        self.sensitive_keys = self.sensitive_keys | {n.strip().lower() for n in names if n.strip()}

    def is_sensitive_key(self, name: str) -> bool:
        lowered = name.strip().lower()
        return any(key in lowered for key in self.sensitive_keys)

    def add_secret(self, secret: Any, name: str | None = None) -> None:
        """Register a value (a string, or the sensitive-keyed strings of a mapping/list).

        With `name`, the value is registered only if the name looks sensitive.
        """
        if isinstance(secret, Mapping):
            for key, value in secret.items():
                self.add_secret(value, str(key))
        elif isinstance(secret, str):
            if name is not None and not self.is_sensitive_key(name):
                return
            self._add_forms(secret)
        elif isinstance(secret, Iterable):
            for value in secret:
                self.add_secret(value, name)

    def add_connection(self, conn: Connection) -> None:
        """Register a connection's password and its extra's sensitive values."""
        if conn.password:
            self.add_secret(conn.password)
        if conn.extra:
            self.add_secret(conn.extra_dejson)

    def add_variable(self, key: str, value: str | None) -> None:
        """Register a variable's value when its key looks sensitive."""
        if value is not None:
            self.add_secret(value, key)

    def _add_forms(self, secret: str) -> None:
        candidates = {secret, *secret.splitlines()}
        new = set()
        for candidate in candidates:
            if len(candidate) >= self.min_length:
                new |= {form for form in _forms(candidate) if len(form) >= self.min_length}
        with self._lock:
            new -= self._forms
            if not new:
                return
            self._forms |= new
            ordered = sorted(self._forms, key=len, reverse=True)
            # Longest first: at one position the longest spelling wins.
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
            self._longest = len(ordered[0])

    # -- masking -----------------------------------------------------------------------

    @property
    def longest(self) -> int:
        """Length of the longest masked spelling (how much a stream must hold back)."""
        return self._longest

    def mask(self, text: str) -> str:
        """`text` with every registered secret replaced by `***`."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def redact(self, item: Any, name: str | None = None) -> Any:
        """A copy of `item` (nested dicts/lists/tuples/sets) with secrets masked.

        Values under a sensitive key are replaced whole; other strings are masked.
        """
        return self._redact(item, name, 0)

    def _redact(self, item: Any, name: str | None, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            return item
        if name is not None and self.is_sensitive_key(name):
            return _hide_all(item, depth)
        if isinstance(item, str):
            return self.mask(item)
        if isinstance(item, Mapping):
            return {
                key: self._redact(value, key if isinstance(key, str) else None, depth + 1)
                for key, value in item.items()
            }
        if isinstance(item, list | tuple | set | frozenset):
            redacted = (self._redact(value, None, depth + 1) for value in item)
            return list(redacted) if isinstance(item, list) else type(item)(redacted)
        return item

    def stream(self) -> MaskedStream:
        """A masker for text written in pieces (one per log stream)."""
        return MaskedStream(self)


def _hide_all(item: Any, depth: int) -> Any:
    if item is None or isinstance(item, bool) or depth > _MAX_DEPTH:
        return item
    if isinstance(item, Mapping):
        return {key: _hide_all(value, depth + 1) for key, value in item.items()}
    if isinstance(item, list | tuple | set | frozenset):
        hidden = (_hide_all(value, depth + 1) for value in item)
        return list(hidden) if isinstance(item, list) else type(item)(hidden)
    return MASK


class MaskedStream:
    """Masks a stream of text pieces; `feed` returns what is safe to write now.

    Text that could be the beginning of a secret is held back until the next `feed` (or
    `flush`) decides it. A newline releases everything before it: one-line secrets cannot
    span it, and multi-line secrets are masked line by line.
    """

    def __init__(self, masker: SecretsMasker) -> None:
        self._masker = masker
        self._pending = ""

    def feed(self, text: str) -> str:
        buffer = self._pending + text
        pattern = self._masker._pattern
        if pattern is None:
            self._pending = ""
            return buffer
        # A secret not complete in the buffer starts within its last (longest - 1) chars.
        cut = max(len(buffer) - (self._masker.longest - 1), buffer.rfind("\n") + 1, 0)
        out: list[str] = []
        position = 0
        for match in pattern.finditer(buffer):
            if match.start() >= cut:
                break
            out += (buffer[position : match.start()], MASK)
            position = match.end()
        cut = max(cut, position)
        out.append(buffer[position:cut])
        self._pending = buffer[cut:]
        return "".join(out)

    def flush(self) -> str:
        """Everything held back, masked (call at end of stream or when idle)."""
        pending, self._pending = self._pending, ""
        return self._masker.mask(pending)


async def mask_stream(chunks: AsyncIterable[str], masker: SecretsMasker) -> AsyncIterator[str]:
    """Mask an async stream of text pieces (a log writer's input) as it flows."""
    stream = masker.stream()
    async for chunk in chunks:
        if out := stream.feed(chunk):
            yield out
    if rest := stream.flush():
        yield rest


class SecretsMaskingFilter(logging.Filter):
    """A stdlib logging filter that masks messages, arguments and tracebacks."""

    def __init__(self, masker: SecretsMasker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masker.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._masker.mask(record.stack_info)
        return True
