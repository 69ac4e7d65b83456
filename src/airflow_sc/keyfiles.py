"""Key files under AIRFLOW_SC_HOME: read one, or create it once, atomically, mode 0600."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["load_or_create_key_file"]


def load_or_create_key_file(
    path: Path, generate: Callable[[], str], validate: Callable[[str, Path], None]
) -> str:
    """The key stored at `path`, or a new one from `generate()` written there.

    `validate(key, path)` raises the caller's own error for an unusable stored key
    (empty, malformed, readable by other users). Blocking (file I/O): call it at start-up
    or through `anyio.to_thread.run_sync`. The file is written to a private temporary file
    and linked into place, so it appears whole or not at all, and of two processes
    starting at once exactly one key wins.
    """
    try:
        return _read(path, validate)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return _read(path, validate)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _read(path: Path, validate: Callable[[str, Path], None]) -> str:
    key = path.read_text(encoding="ascii").strip()
    validate(key, path)
    return key
