"""What the DAG parsing zygotes' children do (a `ChildProgram`, see `children`).

The zygote imports the SDK once (`warm_up`); each file is then imported in a fresh fork
of it (a few milliseconds, against 100+ ms for a new interpreter), so whatever the file
does (hang, `sys.exit()`, `os._exit()`, segfault, allocate gigabytes, print megabytes)
touches only that child, which runs with stdout and stderr on /dev/null under the
address-space limit. A job's payload is ``{"path", "dags_folder"}``, plus ``"callback"``
for a DAG callback request (`callbacks_child.py`), and ``"impersonation"``; the result is
the parse answer as JSON. The zygote itself never imports user code, and runs without
airflow-sc's settings in its environment.

When the deployment gives tasks an OS user of their own (`airflow_sc.impersonation`:
``core.default_impersonation``, else ``core.root_impersonation`` under root), each child
becomes that user before it imports the file (a DAG callback: once its log is open), the
same way a try's process does: no code of a DAG file runs as the server's user. A child
that cannot switch answers an import error saying why.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import traceback
from collections.abc import Callable
from typing import Any

from airflow_sc.children import CallRelay, ChildControl, Fork
from airflow_sc.dag_processing.fork_guard import (
    ForkGuard,
    become_subreaper,
    end_leftovers,
    forks_message,
)
from airflow_sc.impersonation.scratch import Scratch

__all__ = ["PROGRAM", "ParseProgram"]


class ParseProgram:
    """Parse a DAG file, or run a DAG's callbacks, in each child."""

    def warm_up(self, args: list[str]) -> None:
        from airflow_sc.compat import install_airflow_compat_from_environment

        install_airflow_compat_from_environment()  # `import airflow`, plugins: as the parent
        from airflow_sc.dag_processing import parsing

        parsing.warm_up()

    def prepare(self, fork: Fork) -> None:
        user = _parse_user(fork.payload)
        if user is not None:  # the child becomes another user: it gets a scratch dir
            fork.payload["scratch"] = _SCRATCH.fresh()
            with contextlib.suppress(Exception):  # else the child does it all itself
                from airflow_sc.impersonation import Impersonation
                from airflow_sc.impersonation.switch import prepare

                settings = Impersonation.from_json(fork.payload.get("impersonation"))
                prepare(user, folders=settings.folders, own=())

    def relay(self, fork: Fork, control: ChildControl) -> CallRelay | None:
        return None

    def note(self, fork: Fork, text: str) -> None:
        pass  # the answer says what happened

    def run(self, fork: Fork, result_fd: int, channel_fd: int | None) -> None:
        path, dags_folder = fork.payload["path"], fork.payload.get("dags_folder")
        callback: dict[str, Any] | None = fork.payload.get("callback")
        guard: ForkGuard | None = None
        switch = _switcher(fork.payload)
        try:
            if callback is None:
                from airflow_sc.dag_processing import parsing

                switch()
                guard = ForkGuard(lambda forks: _stop_fork_loop(result_fd, path, forks))
                guard.install()
                become_subreaper()
                try:
                    result = parsing.parse_file(path, dags_folder)
                finally:
                    end_leftovers()  # what the file left running does not outlive it
            else:
                from airflow_sc.dag_processing import callbacks_child

                result = callbacks_child.run_callbacks(path, dags_folder, callback, switch=switch)
        except _NotSwitched as exc:
            error = {"filename": path, "stacktrace": f"{path}: {exc}"}
            result = {"path": path, "dags": [], "errors": [error]}
        except BaseException:  # the file's own error
            error = {"filename": path, "stacktrace": traceback.format_exc()}
            result = {"path": path, "dags": [], "errors": [error]}
        if guard is not None and guard.forks:  # what the file did, whatever came of it
            result = _forked(path, guard.forks)
        with os.fdopen(result_fd, "wb") as out:
            out.write(json.dumps(result).encode())


class _NotSwitched(Exception):
    """The child could not become the deployment's task user: the file is not imported."""


def _parse_user(payload: dict[str, Any]) -> str | None:
    """The OS user a child becomes before it imports the file (None: it stays root or the
    server's user)."""
    if os.geteuid() != 0 or not payload.get("impersonation"):
        return None
    from airflow_sc.impersonation import Impersonation, task_user

    settings = Impersonation.from_json(payload.get("impersonation"))
    return task_user(None, settings, server_uid=0)


def _switcher(payload: dict[str, Any]) -> Callable[[], None]:
    """What the child calls to become its user, before it imports the DAG file."""

    def switch() -> None:
        user = _parse_user(payload)
        if user is None:
            return
        from airflow_sc.impersonation import Impersonation, ImpersonationError
        from airflow_sc.impersonation.switch import become

        settings = Impersonation.from_json(payload.get("impersonation"))
        try:
            become(user, folders=settings.folders, scratch=payload.get("scratch") or None)
        except (ImpersonationError, OSError) as exc:
            raise _NotSwitched(
                f"the DAG file cannot be parsed as the OS user {user!r}: {exc} (set "
                'core.root_impersonation = "" to parse and run tasks as root)'
            ) from exc

    return switch


_SCRATCH = Scratch()
atexit.register(_SCRATCH.remove)


def _forked(path: str, forks: int, *, stopped: bool = False) -> dict[str, Any]:
    error = {"filename": path, "stacktrace": forks_message(path, forks, stopped=stopped)}
    return {"path": path, "dags": [], "errors": [error]}


def _stop_fork_loop(result_fd: int, path: str, forks: int) -> None:
    """A fork loop: answer now and end the parse (called from the fork hook)."""
    with os.fdopen(result_fd, "wb") as out:
        out.write(json.dumps(_forked(path, forks, stopped=True)).encode())
    os._exit(0)


PROGRAM = ParseProgram()
