"""What the DAG parsing zygotes' children do (a `ChildProgram`, see `children`).

The zygote imports the SDK once (`warm_up`); each file is then imported in a fresh fork
of it (a few milliseconds, against 100+ ms for a new interpreter), so whatever the file
does (hang, `sys.exit()`, `os._exit()`, segfault, allocate gigabytes, print megabytes)
touches only that child, which runs with stdout and stderr on /dev/null under the
address-space limit. A job's payload is ``{"path", "dags_folder"}``, plus ``"callback"``
for a DAG callback request (`callbacks_child.py`); the result is the parse answer as JSON.
The zygote itself never imports user code.
"""

from __future__ import annotations

import json
import os
import traceback
from typing import Any

from airflow_sc.children import CallRelay, ChildControl, Fork
from airflow_sc.dag_processing.fork_guard import (
    ForkGuard,
    become_subreaper,
    end_leftovers,
    forks_message,
)

__all__ = ["PROGRAM", "ParseProgram"]


class ParseProgram:
    """Parse a DAG file, or run a DAG's callbacks, in each child."""

    def warm_up(self, args: list[str]) -> None:
        from airflow_sc.compat import install_airflow_compat_from_environment

        install_airflow_compat_from_environment()  # `import airflow`, plugins: as the parent
        from airflow_sc.dag_processing import parsing

        parsing.warm_up()

    def prepare(self, fork: Fork) -> None:
        pass

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay | None:
        return None

    def note(self, fork: Fork, text: str) -> None:
        pass  # the answer says what happened

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        path, dags_folder = fork.payload["path"], fork.payload.get("dags_folder")
        callback: dict[str, Any] | None = fork.payload.get("callback")
        guard: ForkGuard | None = None
        try:
            if callback is None:
                from airflow_sc.dag_processing import parsing

                guard = ForkGuard(lambda forks: _stop_fork_loop(result_fd, path, forks))
                guard.install()
                become_subreaper()
                try:
                    result = parsing.parse_file(path, dags_folder)
                finally:
                    end_leftovers()  # what the file left running does not outlive it
            else:
                from airflow_sc.dag_processing import callbacks_child

                result = callbacks_child.run_callbacks(path, dags_folder, callback)
        except BaseException:  # the file's own error
            error = {"filename": path, "stacktrace": traceback.format_exc()}
            result = {"path": path, "dags": [], "errors": [error]}
        if guard is not None and guard.forks:  # what the file did, whatever came of it
            result = _forked(path, guard.forks)
        with os.fdopen(result_fd, "wb") as out:
            out.write(json.dumps(result).encode())


def _forked(path: str, forks: int, *, stopped: bool = False) -> dict[str, Any]:
    error = {"filename": path, "stacktrace": forks_message(path, forks, stopped=stopped)}
    return {"path": path, "dags": [], "errors": [error]}


def _stop_fork_loop(result_fd: int, path: str, forks: int) -> None:
    """A fork loop: answer now and end the parse (called from the fork hook)."""
    with os.fdopen(result_fd, "wb") as out:
        out.write(json.dumps(_forked(path, forks, stopped=True)).encode())
    os._exit(0)


PROGRAM = ParseProgram()
