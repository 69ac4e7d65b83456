"""Password hashing with the standard library's scrypt (pure CPU; no I/O).

A stored hash is `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`: the cost parameters travel
with the hash, so they can be raised later without invalidating existing passwords.
Hashing costs tens of milliseconds of CPU by design; async callers run it in a worker
thread so the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["generate_password", "hash_password", "verify_password"]

_SCHEME: Final = "scrypt"
#: 2**14 x 8 blocks: ~16 MiB and a few tens of ms per hash on this class of machine.
_N: Final = 2**14
_R: Final = 8
_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
_MAXMEM: Final = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_KEY_BYTES
    )


def hash_password(password: str) -> str:
    """A salted hash of `password`, safe to store."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _derive(password, salt, _N, _R, _P)
    return f"{_SCHEME}${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (constant-time compare); False if malformed."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = bytes.fromhex(digest)
        actual = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    """A random password for generated accounts (URL-safe, 24 characters)."""
    return secrets.token_urlsafe(18)
