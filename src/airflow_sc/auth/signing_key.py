"""The key that signs API tokens: configured, or generated once under the home folder."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Final

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
    path = home.expanduser() / SIGNING_KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, name = tempfile.mkstemp(prefix=f".{SIGNING_KEY_FILE}.", dir=path.parent)  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise SigningKeyError(f"{path} is empty: delete it to generate a new signing key")
    if path.stat().st_mode & 0o077:
        raise SigningKeyError(
            f"{path} is readable by other users: run chmod 600 {path} (anyone holding the "
            "key can sign API tokens)"
        )
    return key
