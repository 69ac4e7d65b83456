"""The key that signs API tokens: configured, or generated once under the home folder."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

from airflow_sc.keyfiles import load_or_create_key_file

__all__ = ["SIGNING_KEY_FILE", "SigningKeyError", "load_or_create_signing_key"]

SIGNING_KEY_FILE: Final = "api_signing.key"


class SigningKeyError(Exception):
    """The stored signing key is unusable (empty or readable by other users)."""


def load_or_create_signing_key(home: Path, configured: str | None) -> str:
    """`configured` if set, else `<home>/api_signing.key`, created (mode 0600) if absent.

    Blocking (file I/O): call it at start-up or through `anyio.to_thread.run_sync`.
    Concurrent first starts agree on one key (the file is linked into place whole).
    """
    if configured is not None and configured.strip():
        return configured.strip()
    return load_or_create_key_file(
        home.expanduser() / SIGNING_KEY_FILE, lambda: secrets.token_urlsafe(48), _check_key
    )


def _check_key(key: str, path: Path) -> None:
    if not key:
        raise SigningKeyError(f"{path} is empty: delete it to generate a new signing key")
    if path.stat().st_mode & 0o077:
        raise SigningKeyError(
            f"{path} is readable by other users: run chmod 600 {path} (anyone holding the "
            "key can sign API tokens)"
        )
