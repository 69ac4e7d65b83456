"""Run real airflow-sc processes in tests and read what they print, line by line."""

from __future__ import annotations

import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from airflow_sc.impersonation.accounts import ensure_system_user

READY = re.compile(r"airflow-sc ready: (.*)$")


class Process:
    """A child process whose stdout and stderr lines are collected by reader threads."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self.argv = list(argv)
        self.popen = subprocess.Popen(
            self.argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: cleanup kills grandchildren too
        )
        self.lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self.output: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: object) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            self.lines.put((name, line.rstrip("\n")))
        self.lines.put((name, None))

    def wait_for_line(self, pattern: str | re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        """Block until a printed line matches `pattern`; fail with everything printed so far."""
        regex = re.compile(pattern)
        closed = 0
        while closed < 2:
            try:
                _, line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(self._explain(f"no line matching {regex.pattern!r}")) from None
            if line is None:
                closed += 1
                continue
            self.output.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(self._explain(f"exited before printing {regex.pattern!r}"))

    def wait_ready(self, timeout: float = 30) -> dict[str, str]:
        match = self.wait_for_line(READY, timeout)
        return dict(part.partition("=")[::2] for part in match.group(1).split())

    def send(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(self._explain(f"still running after {timeout}s")) from None
        for reader in self._readers:
            reader.join(timeout=5)
        self._drain()
        return code

    @property
    def text(self) -> str:
        self._drain()
        return "\n".join(self.output)

    def _drain(self) -> None:
        while True:
            try:
                _, line = self.lines.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.output.append(line)

    def _explain(self, what: str) -> str:
        return f"{' '.join(self.argv)}: {what}; output so far:\n{self.text}"

    def kill_group(self) -> None:
        """Kill whatever is left of the process group, then release the pipes."""
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    """The parent's environment minus any AIRFLOW_SC__ settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_SC")}
    env["AIRFLOW_SC_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


@contextmanager
def running(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> Iterator[Process]:
    process = Process(argv, env, cwd)
    try:
        yield process
    finally:
        process.kill_group()


def airflow_sc(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow_sc", *args]


#: The OS user a deployment's tasks run as when the tests run as root (its default).
TASK_USER = "airflow-sc-task"


@contextmanager
def task_writable_folder() -> Iterator[Path]:
    """A folder a deployment's tasks can write to and the test can read (a ledger of side
    effects): pytest's folders are the test's user's alone (0700), and under root the tasks
    run as `TASK_USER`. Under ``/tmp``, owned by that user; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="airflow-sc-e2e-"))
    try:
        _give_to_tasks(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def task_writable_file(path: Path) -> Path:
    """An empty file at `path` (in a `task_writable_folder`) that tasks of any executor can
    append to: the in-process executor's run as the server's user, the others' may not."""
    path.touch()
    _give_to_tasks(path)
    return path


def _give_to_tasks(path: Path) -> None:
    if os.geteuid() == 0:
        ensure_system_user(TASK_USER)
        account = pwd.getpwnam(TASK_USER)
        os.chown(path, account.pw_uid, account.pw_gid)
