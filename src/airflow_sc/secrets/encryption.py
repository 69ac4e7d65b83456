"""Fernet encryption of metastore values, with key rotation.

The key setting holds one or more comma-separated Fernet keys: the first encrypts, all of
them decrypt (`MultiFernet`). To rotate: put a new key first and keep the old one after it,
run `rotate_fernet_key` (see `airflow_sc.secrets.metastore`), then drop the old key.

There is no plaintext mode: without a configured key, one is generated on first start and
kept in `<home>/fernet.key` (mode 0600); a value that no configured key decrypts raises
`DecryptionError` instead of coming back garbled or as ciphertext.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from airflow_sc.keyfiles import load_or_create_key_file
from airflow_sc.secrets.errors import DecryptionError, FernetKeyError

__all__ = ["FERNET_KEY_FILE", "SecretsCipher", "generate_fernet_key", "load_or_create_fernet_key"]

#: File under AIRFLOW_SC_HOME holding the generated key.
FERNET_KEY_FILE: Final = "fernet.key"


def generate_fernet_key() -> str:
    return Fernet.generate_key().decode("ascii")


class SecretsCipher:
    """Encrypts and decrypts text with the configured keys (first key encrypts)."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise FernetKeyError("no Fernet key given (the fernet key setting is empty)")
        fernets: list[Fernet] = []
        for index, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise FernetKeyError(
                    f"Fernet key #{index} is malformed: a key is 32 url-safe base64-encoded "
                    "bytes (generate one with airflow_sc.secrets.generate_fernet_key())"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str = "a value") -> str:
        """Decrypt; `what` names the value in the error (`connection 'x' password`)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                f"cannot decrypt {what}: none of the {self.key_count} configured Fernet key(s) "
                "matches the key it was encrypted with (was the key changed without keeping "
                "the old one after the new one?)"
            ) from None

    def rotate(self, token: str, *, what: str = "a value") -> str:
        """Re-encrypt a token with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise DecryptionError(
                f"cannot rotate {what}: no configured Fernet key decrypts it"
            ) from None


def load_or_create_fernet_key(home: Path, configured: str | None) -> str:
    """The key(s) to use: `configured` if set, else `<home>/fernet.key`, created if absent.

    Blocking (file I/O): call it at start-up before the event loop, or through
    `anyio.to_thread.run_sync`. Concurrent first starts agree on one key.
    """
    if configured is not None and configured.strip():
        SecretsCipher(configured)  # validate now, not at the first secret
        return configured.strip()
    return load_or_create_key_file(
        home.expanduser() / FERNET_KEY_FILE, generate_fernet_key, _check_key
    )


def _check_key(key: str, path: Path) -> None:
    if not key:
        raise FernetKeyError(f"{path} is empty: restore the key or delete the file")
    SecretsCipher(key)
    if path.stat().st_mode & 0o077:
        raise FernetKeyError(
            f"{path} is readable by other users: run chmod 600 {path} (it holds the key "
            "that decrypts every stored password)"
        )
