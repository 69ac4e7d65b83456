"""One log file per try: where it lives and how a worker writes it.

``<base_log_folder>/dag_id=D/run_id=R/task_id=T[/map_index=M]/attempt=N.log``.

In a worker process (`capture_process_output`) the file receives everything: ``print``,
``sys.stderr``, the ``logging`` tree, and output written by C code straight to file
descriptors 1 and 2 (a segfault's fault-handler traceback included). Python-level text is
masked with the `SecretsMasker` (fd-level writes by C code are not). In the scheduler's
process (the in-process executor) each try gets its own logger instead (`open_try_logger`).
"""

from __future__ import annotations

import faulthandler
import hashlib
import io
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

from airflow_sc.secrets.masking import SecretsMasker, SecretsMaskingFilter

__all__ = [
    "LOG_FORMAT",
    "MaskedTextWriter",
    "capture_process_output",
    "close_try_logger",
    "open_try_logger",
    "try_log_path",
]

LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"


#: Longest file name most file systems take, in bytes (NAME_MAX).
_NAME_MAX = 255


def _part(name: str, value: str) -> str:
    """One path component, `name=value`. A run id may hold ':' or '+' (kept, as Airflow
    does), never a path separator. An id of the full 250 characters does not fit beside its
    `name=`: a component too long for the file system keeps its start and ends with a hash
    of the whole value, so it stays unique."""
    component = f"{name}={value.replace(os.sep, '_').replace(chr(0), '_')}"
    encoded = component.encode(errors="surrogateescape")
    if len(encoded) <= _NAME_MAX:
        return component
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    head = encoded[: _NAME_MAX - len(digest) - 1].decode(errors="ignore")
    return f"{head}-{digest}"


def try_log_path(
    base_log_folder: Path,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    map_index: int = -1,
) -> Path:
    path = base_log_folder / _part("dag_id", dag_id) / _part("run_id", run_id)
    path /= _part("task_id", task_id)
    if map_index >= 0:
        path /= f"map_index={map_index}"
    return path / f"attempt={try_number}.log"


class MaskedTextWriter(io.TextIOBase):
    """A text stream that masks secrets and writes through to `target` at once."""

    def __init__(self, target: IO[str], masker: SecretsMasker) -> None:
        self._target = target
        self._masker = masker

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._target.write(self._masker.mask(text))
        self._target.flush()
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def fileno(self) -> int:
        return self._target.fileno()

    def isatty(self) -> bool:
        return False


#: Libraries whose INFO records describe airflow-sc's own traffic, not the task.
_QUIET_LOGGERS = ("httpx", "httpcore")


def capture_process_output(path: Path, masker: SecretsMasker, *, level: int = logging.INFO) -> Any:
    """Send all of this process's output to `path` (a worker's child, for its whole life).

    Returns the open file (kept alive by the caller until the process exits).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives with the process
    for fd in (1, 2):
        os.dup2(log_file.fileno(), fd)
    masked = MaskedTextWriter(log_file, masker)
    sys.stdout = masked
    sys.stderr = masked
    faulthandler.enable(file=log_file, all_threads=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(masked)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(SecretsMaskingFilter(masker))
    root.addHandler(handler)
    root.setLevel(level)
    # The task's own calls to the execution API are airflow-sc's plumbing, not the task's
    # story: one INFO line per request would bury what the task logged.
    for plumbing in _QUIET_LOGGERS:
        logging.getLogger(plumbing).setLevel(max(level, logging.WARNING))
    return log_file


def open_try_logger(
    path: Path, masker: SecretsMasker, *, name: str, level: int = logging.INFO
) -> logging.Logger:
    """A logger writing (masked) to this try's file only; close with `close_try_logger`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not registered with `logging.getLogger`: thousands of short-lived try loggers would
    # make every registration and level change walk all of them.
    logger = logging.Logger(name, level)
    logger.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(SecretsMaskingFilter(masker))
    logger.addHandler(handler)
    return logger


def close_try_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
