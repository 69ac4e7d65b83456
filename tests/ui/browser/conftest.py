"""Browser tests: a real `airflow-sc run` process (API, UI, DAG processor, scheduler, local
executor on SQLite) and one headless Chromium per module.

Chromium is Debian's `chromium` (`/usr/bin/chromium`), which `tests/ui/install_browser.sh`
installs when missing (`make test` runs it), driven by Playwright for Python; Playwright's
own browser builds are never downloaded. Without the browser these tests skip, unless
`AIRFLOW_SC_TEST_REQUIRE_BROWSER=1` (CI sets it) makes that a failure.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from airflow_sc.auth import Role, create_user
from airflow_sc.db.engine import open_database
from tests.processes import airflow_sc, clean_env, running

CHROMIUM = Path("/usr/bin/chromium")
PASSWORDS = {"admin": "admin password 1", "viewer": "viewer password 1"}


@dataclass
class RunningServer:
    url: str
    home: Path

    def api_token(self, user: str = "admin") -> str:
        answer = httpx.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": PASSWORDS[user]},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


# Module scope, not session: while Playwright's sync API is open it holds an event loop in
# this thread, and the async tests of other modules need the thread to themselves.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("AIRFLOW_SC_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: run tests/ui/install_browser.sh as root")
        pytest.skip(f"{CHROMIUM} is missing (tests/ui/install_browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def write_dags(folder: Path, sources: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        (folder / name).write_text(textwrap.dedent(source))


def serve(tmp: Path, dag_sources: dict[str, str]) -> Iterator[RunningServer]:
    """`airflow-sc run` over a fresh home holding `dag_sources`, with users `admin` and
    `viewer` (passwords in `PASSWORDS`)."""
    home = tmp / "home"
    write_dags(home / "dags", dag_sources)
    env = clean_env(
        home,
        AIRFLOW_SC__API__PORT="0",
        AIRFLOW_SC__CORE__LOAD_EXAMPLES="false",
        AIRFLOW_SC__CORE__SHUTDOWN_GRACE="5",
        AIRFLOW_SC__CORE__PARALLELISM="2",
    )
    # The DAGs are in the database before the server starts: no waiting for a parse.
    subprocess.run(
        airflow_sc("dags", "reserialize"), env=env, cwd=tmp, check=True, capture_output=True
    )

    async def add_users() -> None:
        async with open_database(f"sqlite:///{home / 'airflow-sc.db'}") as db:
            for name, password in PASSWORDS.items():
                await create_user(db, name, password, Role(name))

    # Playwright's sync API holds an event loop in this thread: run ours in another.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, add_users).result()
    with running(airflow_sc("run"), env, tmp) as proc:
        url = proc.wait_ready(timeout=60)["api"]
        yield RunningServer(url, home)
