"""A warm parent process that forks one isolated child per DAG file.

Run as `python -m airflow_sc.dag_processing.zygote`. It imports the SDK once, then reads
one JSON request per line on stdin (`{"path", "timeout", "max_memory"}`, plus `"callback"`
for a DAG callback request, see `callbacks_child.py`) and answers one JSON line on its
protocol channel. Each file is imported in a fresh `fork()` of this warm
process (a few milliseconds, against 100+ ms for a new interpreter), so whatever the file
does — hang, `sys.exit()`, `os._exit()`, segfault, allocate gigabytes, print megabytes —
touches only that child:

- the child runs in its own session (the whole group is killed on timeout), under an
  address-space limit, with stdin/stdout/stderr on /dev/null;
- its result travels on a private pipe; no result means the child died, and the answer
  says how (exit code or signal);
- the zygote itself never imports user code.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from typing import Any

RESULT_LIMIT = 256 * 1024 * 1024  # bytes of serialized result accepted from one file


def main() -> int:
    # Keep the protocol channel private: anything printed by accident goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from airflow_sc.compat import install_airflow_compat_from_environment

    install_airflow_compat_from_environment()  # `import airflow`, plugins: as the parent
    from airflow_sc.dag_processing import parsing  # warm the import before forking

    parsing.warm_up()
    for line in sys.stdin:
        request = json.loads(line)
        answer = run_isolated(
            request["path"],
            request.get("dags_folder"),
            float(request["timeout"]),
            int(request["max_memory"]),
            callback=request.get("callback"),
        )
        protocol.write(json.dumps(answer) + "\n")
    return 0


def run_isolated(
    path: str,
    dags_folder: str | None,
    timeout: float,
    max_memory: int,
    *,
    callback: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse `path` in a forked child; always returns an answer, never raises.

    With `callback`, the child runs that DAG callback request instead of parsing
    (`callbacks_child.run_callbacks`), under the same isolation and timeout.
    """
    started = time.monotonic()
    doing = "running DAG callbacks from" if callback is not None else "importing"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        _child(path, dags_folder, write_fd, max_memory, callback)
    os.close(write_fd)
    data, timed_out = _read_result(read_fd, started + timeout)
    os.close(read_fd)
    if timed_out:
        _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    _kill_group(pid)  # grandchildren left behind by the file
    duration = time.monotonic() - started
    if timed_out:
        return _failure(path, f"timed out after {timeout:g}s {doing} {path}", duration)
    if data:
        try:
            result: dict[str, Any] = json.loads(data)
        except ValueError:
            return _failure(path, f"parsing {path} produced an unreadable result", duration)
        result["duration"] = duration
        return result
    what = "running DAG callbacks from" if callback is not None else "parsing"
    return _failure(path, f"{what} {path} {_describe_exit(status)}", duration)


def _child(
    path: str,
    dags_folder: str | None,
    write_fd: int,
    max_memory: int,
    callback: dict[str, Any] | None = None,
) -> None:
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if max_memory > 0:
            resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        from airflow_sc.dag_processing import parsing

        try:
            if callback is None:
                result = parsing.parse_file(path, dags_folder)
            else:
                from airflow_sc.dag_processing import callbacks_child

                result = callbacks_child.run_callbacks(path, dags_folder, callback)
        except BaseException:  # the file's own error
            error = {"filename": path, "stacktrace": traceback.format_exc()}
            result = {"path": path, "dags": [], "errors": [error]}
        payload = json.dumps(result).encode()
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
    finally:
        os._exit(0)


def _read_result(fd: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"", True
        # stdin turns readable mid-request only at EOF: the pool closed it (shutdown, or
        # it gave up on this zygote) or died. The child is killed then, not left behind.
        ready, _, _ = select.select([fd, 0], [], [], remaining)
        if fd not in ready:
            return b"", True
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size > RESULT_LIMIT:
            return b"", False
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"was killed by signal {name}"
    return f"exited with code {os.WEXITSTATUS(status)} before returning a result (os._exit?)"


def _failure(path: str, message: str, duration: float) -> dict[str, Any]:
    return {
        "path": path,
        "dags": [],
        "errors": [{"filename": path, "stacktrace": message}],
        "duration": duration,
    }


if __name__ == "__main__":
    sys.exit(main())
