"""A throwaway PostgreSQL cluster of a test's own, to stop and start at will.

Never the shared server: `initdb` in a temporary folder, `pg_ctl` on a free port of
127.0.0.1 with trust authentication. The binaries are found under
``/usr/lib/postgresql/*/bin`` (or ``AIRFLOW_SC_TEST_PG_BIN``); without them the test is
skipped with the reason, or fails when ``AIRFLOW_SC_TEST_REQUIRE_POSTGRES=1``. PostgreSQL
refuses to run as root: as root, the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from airflow_sc.testing import postgres

BIN_ENV = "AIRFLOW_SC_TEST_PG_BIN"


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    configured = os.environ.get(BIN_ENV)
    candidates = [Path(configured)] if configured else []
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    candidates += reversed(found)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One initialised cluster: `start()`, `stop()`, `url`."""

    def __init__(self, bin_dir: Path, folder: Path, user: str | None) -> None:
        self.bin_dir = bin_dir
        self.data = folder / "data"
        self.logfile = folder / "server.log"
        self.port = _free_port()
        self._prefix = ["runuser", "-u", user, "--"] if user else []
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        result = subprocess.run(
            [*self._prefix, *argv], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise AssertionError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\nserver log:\n{log}"
            )

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections (`pg_ctl -w`)."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop the server: sessions are terminated (`-m fast`), as in a restart."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop_quietly(self) -> None:
        pg_ctl = str(self.bin_dir / "pg_ctl")
        subprocess.run(
            [*self._prefix, pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A started cluster of the test's own, removed afterwards (or a skip, see the module)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin"
        if postgres.postgres_required():
            pytest.fail(f"{postgres.REQUIRE_ENV} is set but {reason}", pytrace=False)
        pytest.skip(reason)
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run a cluster as")
    # Not under pytest's tmp_path: the server's user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="airflow-sc-pg-"))
    try:
        if user is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        cluster = Cluster(bin_dir, folder, user)
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop_quietly()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
