"""Errors raised by the secrets layer; each message says what to fix."""

from __future__ import annotations

__all__ = [
    "ConnectionFormatError",
    "DecryptionError",
    "FernetKeyError",
    "SecretsBackendError",
    "SecretsError",
    "SecretsFileError",
]


class SecretsError(Exception):
    """Base class of the secrets layer's errors."""


class ConnectionFormatError(SecretsError, ValueError):
    """A connection's URI or JSON form is malformed."""


class SecretsFileError(SecretsError):
    """A local secrets file cannot be read or parsed (the message names file and line)."""


class FernetKeyError(SecretsError):
    """The Fernet key is missing or malformed."""


class DecryptionError(SecretsError):
    """A stored value cannot be decrypted with the configured key(s)."""


class SecretsBackendError(SecretsError):
    """A backend failed to answer (not "not found": that is `None`)."""
