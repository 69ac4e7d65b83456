"""A real `airflow-sc run` for one benchmark run, and the REST API calls the harness makes.

The server starts from a clean AIRFLOW_SC_HOME with settings given as
AIRFLOW_SC__SECTION__KEY variables, on API port 0; its URL comes from the
"airflow-sc ready: api=URL" log line, its admin password from
`$AIRFLOW_SC_HOME/admin_password.txt`. It runs in its own session so that stopping it
(SIGTERM, then SIGKILL of the whole group) leaves no process behind.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

__all__ = ["Server", "open_server"]

AIRFLOW_SC = Path(sys.executable).with_name("airflow-sc")
READY = re.compile(r"airflow-sc ready: .*\bapi=(\S+)")
#: PATCH /dags and GET /dags return at most this many DAGs per page.
PAGE = 100


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    home: Path
    log_path: Path
    api_url: str = ""
    #: CPU-seconds of the server and every descendant it reaped, over its whole life
    #: (from `wait4` once it exited).
    lifetime_cpu_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def log_tail(self, chars: int = 3000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]

    async def wait_ready(self, seconds: float) -> str:
        """The API's base URL, once the ready line is logged."""
        with anyio.fail_after(seconds):
            while True:
                match = READY.search(self.log_path.read_text(errors="replace"))
                if match:
                    self.api_url = match.group(1).rstrip("/")
                    return self.api_url
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"airflow-sc run exited ({self.process.returncode}) before it was ready:"
                        f"\n{self.log_tail()}"
                    )
                await anyio.sleep(0.05)

    def admin_password(self) -> str:
        return (self.home / "admin_password.txt").read_text().strip()

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM, wait for the drain, SIGKILL the group if it overstays; reap with wait4."""
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self._reaped(status, usage)
                return
            time.sleep(0.05)
        self.notes.append(f"did not stop within {grace:.0f}s of SIGTERM: killed")
        os.killpg(self.process.pid, signal.SIGKILL)
        _, status, usage = os.wait4(self.process.pid, 0)
        self._reaped(status, usage)

    def _reaped(self, status: int, usage: resource.struct_rusage) -> None:
        self.process.returncode = os.waitstatus_to_exitcode(status)
        # ru_* of wait4 cover the child and the descendants it waited for.
        self.lifetime_cpu_s = usage.ru_utime + usage.ru_stime
        if self.process.returncode != 0:
            self.notes.append(f"airflow-sc run exited with {self.process.returncode}")


@contextmanager
def open_server(
    *, home: Path, database_url: str, backend: str, parallelism: int, extra_env: dict[str, str]
) -> Iterator[Server]:
    env = {
        **os.environ,
        "AIRFLOW_SC_HOME": str(home),
        "AIRFLOW_SC__DATABASE__URL": database_url,
        "AIRFLOW_SC__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW_SC__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW_SC__API__PORT": "0",
        **extra_env,
    }
    log_path = home / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(AIRFLOW_SC), "run", "--backend", backend],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process=process, home=home, log_path=log_path)
    try:
        yield server
    finally:
        server.stop()


# -- REST API ------------------------------------------------------------------------------


async def log_in(http: httpx.AsyncClient, password: str) -> None:
    """Log in as `admin`; later requests of `http` carry the token."""
    response = await http.post("/auth/token", json={"username": "admin", "password": password})
    response.raise_for_status()
    http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


async def wait_parsed(http: httpx.AsyncClient, dags: int, seconds: float) -> None:
    with anyio.fail_after(seconds):
        while True:
            page = await http.get("/api/v2/dags", params={"limit": 1})
            page.raise_for_status()
            if page.json()["total_entries"] >= dags:
                return
            await anyio.sleep(0.1)


async def unpause_all(http: httpx.AsyncClient, dags: int) -> None:
    """Unpause every DAG through the bulk PATCH /dags, a page at a time."""
    for offset in range(0, dags, PAGE):
        response = await http.patch(
            "/api/v2/dags",
            params={"dag_id_pattern": "~", "limit": PAGE, "offset": offset},
            json={"is_paused": False},
        )
        response.raise_for_status()
    paused = await http.get("/api/v2/dags", params={"paused": True, "limit": 1})
    paused.raise_for_status()
    if paused.json()["total_entries"]:
        raise RuntimeError(f"{paused.json()['total_entries']} DAGs are still paused")


async def trigger(http: httpx.AsyncClient, dag_id: str) -> None:
    response = await http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
    if not response.is_success:
        raise RuntimeError(f"triggering {dag_id}: {response.status_code} {response.text}")
