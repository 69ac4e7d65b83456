"""A real `airflow-sc run` deployment for end-to-end tests, driven through its REST API.

`Deployment` is a home folder, a database and a dags folder holding copies of chosen DAG
files; `Deployment.start()` runs `airflow-sc run` on it (as many times as a test needs:
restarts keep the home and the database) and yields a `Running` deployment with a logged-in
`Api` client. Nothing here reaches into the process: what the tests check is what a user
sees through the API, the logs and the process table.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import psutil
import pytest
from sqlalchemy import select

from airflow_sc.db import Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import task_instance
from tests.processes import (
    Process,
    airflow_sc,
    clean_env,
    running,
)

DAGS = Path(__file__).with_name("dags")
FINISHED = frozenset({"success", "failed"})
T = TypeVar("T")


def cells(*wanted: tuple[str, str]) -> list[Any]:
    """pytest params for (database, backend) cells, minus those the environment leaves out
    (`AIRFLOW_SC_TEST_DATABASES` / `AIRFLOW_SC_TEST_BACKENDS`, as for the other tests)."""

    def chosen(variable: str) -> set[str] | None:
        raw = {v.strip() for v in os.environ.get(variable, "").split(",") if v.strip()}
        return raw or None

    databases = chosen("AIRFLOW_SC_TEST_DATABASES")
    backends = chosen("AIRFLOW_SC_TEST_BACKENDS")
    return [
        pytest.param(
            (database, backend),
            id=f"{database}-{backend}",
            marks=[pytest.mark.postgres] if database == "postgres" else [],
        )
        for database, backend in wanted
        if (databases is None or database in databases)
        and (backends is None or backend in backends)
    ]


def eventually(
    probe: Callable[[], T | None], *, within: float, what: str, interval: float = 0.1
) -> T:
    """Poll `probe` (real state: the API, the process table) until it returns non-None."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(interval)


class Api:
    """The REST API v2 of a running deployment, logged in as its first admin."""

    def __init__(self, url: str, password: str) -> None:
        token = httpx.post(
            f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=10
        )
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def wait_for_dags(self, dag_ids: Iterable[str], *, within: float = 30) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool | None:
            known = {d["dag_id"] for d in self.get("/dags?limit=100")["dags"]}
            return True if wanted <= known else None

        eventually(parsed, within=within, what=f"DAGs {sorted(wanted)} parsed")

    def create_pool(self, name: str, slots: int) -> None:
        self.client.post("/pools", json={"name": name, "slots": slots}).raise_for_status()

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        response = self.client.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": dict(conf or {})}
        )
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_finished(self, runs: Mapping[str, str], *, within: float) -> dict[str, str]:
        """Each DAG's run (`runs`: dag_id -> run_id) finished: its final state by dag_id."""

        def states() -> dict[str, str] | None:
            now = {dag_id: self.run_state(dag_id, run_id) for dag_id, run_id in runs.items()}
            return now if set(now.values()) <= FINISHED else None

        return eventually(states, within=within, what=f"runs of {sorted(runs)} finished")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        rows = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {row["task_id"]: row for row in rows}

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        rows: list[dict[str, Any]] = self.get(path)["task_instances"]
        return sorted(rows, key=lambda row: int(row["try_number"]))

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.client.get(path, headers={"Accept": "text/plain"})
        response.raise_for_status()
        return response.text

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path)["value"]


@dataclass
class Running:
    process: Process
    api: Api
    #: The `airflow-sc ready:` line's fields (component -> detail).
    ready: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.popen.pid


@dataclass
class Deployment:
    """A home folder, a database (SQLite in the home unless `database_url`), some DAG files."""

    home: Path
    backend: str
    dag_files: tuple[str, ...]
    database_url: str | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        for name in self.dag_files:
            shutil.copy(DAGS / name, dags / name)

    def environment(self) -> dict[str, str]:
        settings = {
            "AIRFLOW_SC__API__PORT": "0",
            "AIRFLOW_SC__CORE__DAGS_FOLDER": str(self.home / "dags"),
            "AIRFLOW_SC__DAG_PROCESSOR__DAGS_ARE_PAUSED_AT_CREATION": "false",
            **self.settings,
        }
        if self.database_url is not None:
            settings["AIRFLOW_SC__DATABASE__URL"] = self.database_url
        return clean_env(self.home, **settings)

    @contextmanager
    def start(self, *, within: float = 40) -> Iterator[Running]:
        """`airflow-sc run` on this deployment until the block ends (then its group is killed)."""
        argv = airflow_sc("run", "--backend", self.backend)
        with running(argv, self.environment(), self.home) as process:
            ready = process.wait_ready(timeout=within)
            password = (self.home / "admin_password.txt").read_text().strip()
            api = Api(ready["api"], password)
            try:
                yield Running(process, api, ready)
            finally:
                api.client.close()

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'airflow-sc.db'}"

    def task_instances(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every task instance row by (dag_id, task_id), read from the database directly
        (while no process runs, to see what the last one left behind)."""

        async def read() -> dict[tuple[str, str], dict[str, Any]]:
            async def body(tx: Transaction) -> list[Any]:
                return list((await tx.execute(select(task_instance))).mappings())

            async with open_database(self.url) as db:
                rows = await db.run(body, write=False)
            return {(r["dag_id"], r["task_id"]): dict(r) for r in rows}

        return anyio.run(read)


# -- the process tree ------------------------------------------------------------------------


def process_tree(pid: int) -> list[psutil.Process]:
    """`pid` and every live descendant (task processes are in sessions of their own)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Those still running: not gone, not a zombie, not a reused pid (psutil checks that)."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except psutil.NoSuchProcess:
            continue
    return left


def describe(processes: Iterable[psutil.Process]) -> str:
    out = []
    for process in processes:
        try:
            out.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            out.append(f"{process.pid} (gone)")
    return "; ".join(out)
