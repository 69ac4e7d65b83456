"""Where in the user's DAG file something was defined, for error messages."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import NamedTuple

__all__ = ["Site", "user_site"]

_SDK_DIR = str(Path(__file__).resolve().parent)
# Frames from these files are plumbing between the user's line and ours.
_SKIPPED_FILES = (_SDK_DIR, "<frozen ", "contextlib.py", "functools.py")


class Site(NamedTuple):
    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}"


UNKNOWN_SITE = Site("<unknown>", 0)


def user_site() -> Site:
    """The innermost calling frame that is not part of the SDK itself."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(part in filename for part in _SKIPPED_FILES):
            return Site(filename, frame.f_lineno)
        frame = frame.f_back
    return UNKNOWN_SITE
