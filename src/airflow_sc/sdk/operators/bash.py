"""`BashOperator`: run a command with ``bash -c`` in a child process.

Output (stdout and stderr, merged) is logged line by line as it arrives; the last line is
the return value (passed through ``output_processor`` when one is given). An exit code in
``skip_on_exit_code`` (99 by default) skips the task, any other non-zero code fails it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any, ClassVar

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.exceptions import AirflowException, AirflowSkipException

__all__ = ["BashOperator", "context_env"]

# Context facts exported to the command, as Airflow does.
_CONTEXT_ENV = {
    "AIRFLOW_CTX_DAG_ID": ("dag", "dag_id"),
    "AIRFLOW_CTX_TASK_ID": ("task", "task_id"),
    "AIRFLOW_CTX_DAG_RUN_ID": ("dag_run", "run_id"),
    "AIRFLOW_CTX_TRY_NUMBER": ("ti", "try_number"),
}


def context_env(context: Mapping[str, Any]) -> dict[str, str]:
    """``AIRFLOW_CTX_*`` variables describing the running task."""
    env: dict[str, str] = {}
    for name, (key, attribute) in _CONTEXT_ENV.items():
        value = getattr(context.get(key), attribute, None)
        if value is not None:
            env[name] = str(value)
    logical_date = context.get("logical_date")
    if logical_date is not None:
        env["AIRFLOW_CTX_LOGICAL_DATE"] = logical_date.isoformat()
    return env


class BashOperator(BaseOperator):
    """Run `bash_command`; the last line of its output is the return value."""

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env", "cwd")
    template_fields_renderers: ClassVar[dict[str, str]] = {"bash_command": "bash", "env": "json"}
    template_ext: ClassVar[Sequence[str]] = (".sh", ".bash")
    ui_color: ClassVar[str] = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str | Any,
        env: Mapping[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda result: result,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(output_processor):
            raise self._error("output_processor must be callable")
        self.output_processor = output_processor
        self.bash_command = bash_command
        self.env = dict(env) if env is not None else None
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = skip_on_exit_code
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    def _environment(self, context: Mapping[str, Any]) -> dict[str, str]:
        if self.env is None:
            env = dict(os.environ)
        elif self.append_env:
            env = {**os.environ, **self.env}
        else:
            env = dict(self.env)
        env.update(context_env(context))
        return env

    def _check_cwd(self) -> None:
        if self.cwd is None:
            return
        if not os.path.exists(self.cwd):
            raise AirflowException(f"Can not find the cwd: {self.cwd}")
        if not os.path.isdir(self.cwd):
            raise AirflowException(f"The cwd {self.cwd} must be a directory")

    def execute(self, context: Mapping[str, Any]) -> Any:
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise AirflowException(
                f"bash_command must be a non-empty string: {self.bash_command!r}"
            )
        self._check_cwd()
        self.log.info("Running command: %s", ["bash", "-c", self.bash_command])
        last_line = ""
        # A session of its own lets on_kill stop the command's children too.
        with subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self._environment(context),
            start_new_session=True,
        ) as process:
            self._process = process
            assert process.stdout is not None
            try:
                for raw in process.stdout:
                    line = raw.decode(self.output_encoding, errors="backslashreplace")
                    last_line = line.rstrip("\n")
                    self.log.info("%s", last_line)
                code = process.wait()
            except BaseException:
                # Stopped (SIGTERM, a timeout) or broken: the command's group must not
                # outlive the task (its session is not the task process's).
                _end_group(process, self.log)
                raise
            finally:
                self._process = None
        self.log.info("Command exited with return code %d", code)
        if code in self.skip_on_exit_code:
            raise AirflowSkipException(f"Bash command returned exit code {code}. Skipping.")
        if code != 0:
            raise AirflowException(
                f"Bash command failed. The command returned a non-zero exit code {code}."
            )
        return self.output_processor(last_line)

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            self.log.info("Sending SIGTERM to the command's process group")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)


#: Seconds a stopped command's process group gets between SIGTERM and SIGKILL (well under
#: the executor's terminate grace, which then kills the task process itself).
KILL_GRACE = 2.0


def _end_group(process: subprocess.Popen[bytes], log: logging.Logger) -> None:
    """SIGTERM the command's process group, SIGKILL it if the command has not exited after
    `KILL_GRACE` seconds. Members left behind by an exited command get the signals too."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        log.warning("The command did not stop after SIGTERM: killing its process group")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
