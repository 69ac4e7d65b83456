"""Take the UI screenshots in docs/screenshots/ (light and dark).

Starts `airflow-sc run` over a fresh home with the example DAGs, runs each example DAG
once, then opens the main pages in headless Chromium (Debian's /usr/bin/chromium through
Playwright, as the browser tests do) at 1280x800 in both colour schemes.

    .venv/bin/python docs/screenshots/take_screenshots.py
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
READY = re.compile(r"airflow-sc ready: (.*)$")
FINISHED = {"success", "failed"}


def start(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_SC")},
        "AIRFLOW_SC_HOME": str(home),
        "AIRFLOW_SC__API__PORT": "0",
        "AIRFLOW_SC__CORE__LOAD_EXAMPLES": "true",
    }
    command = [str(Path(sys.executable).with_name("airflow-sc")), "run"]
    # Its output goes to a file (a pipe nobody reads would fill up and stall the server).
    log = home.parent / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text().splitlines():
            found = READY.search(line)
            if found:
                parts = dict(p.partition("=")[::2] for p in found.group(1).split())
                return proc, parts["api"]
        time.sleep(0.2)  # a script waiting for a process's line, not a test
    proc.kill()
    raise SystemExit("airflow-sc run was not ready:\n" + log.read_text())


def run_examples(api: httpx.Client) -> list[str]:
    """Unpause and trigger every DAG once; wait until every run has finished."""
    dag_ids = [d["dag_id"] for d in api.get("/api/v2/dags").json()["dags"]]
    for dag_id in dag_ids:
        api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = api.get("/api/v2/dags/~/dagRuns", params={"limit": 100}).json()["dag_runs"]
        if runs and all(r["state"] in FINISHED for r in runs):
            break
        time.sleep(1)  # a script waiting for the scheduler, not a test
    return dag_ids


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        proc, url = start(home)
        try:
            password = (home / "admin_password.txt").read_text().strip()
            token = httpx.post(
                f"{url}/auth/token", json={"username": "admin", "password": password}
            ).json()["access_token"]
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as api:
                dag_ids = run_examples(api)
            dag = "example_taskflow_etl" if "example_taskflow_etl" in dag_ids else dag_ids[0]
            first_task = None
            tis = httpx.get(
                f"{url}/api/v2/dags/{dag}/dagRuns/~/taskInstances",
                headers={"Authorization": f"Bearer {token}"},
            ).json()["task_instances"]
            if tis:
                first_task = tis[0]
            pages = {
                "dags": "/dags",
                "graph": f"/dags/{dag}/graph",
                "gantt": f"/dags/{dag}/gantt",
                "calendar": f"/dags/{dag}/calendar",
                "details": f"/dags/{dag}/details",
                "dag-runs": "/dag-runs",
                "health": "/health",
            }
            if first_task:
                query = {"run_id": first_task["dag_run_id"], "task_id": first_task["task_id"]}
                pages["panel"] = f"/dags/{dag}?{urlencode(query)}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
                )
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        base_url=url, color_scheme=scheme, viewport={"width": 1280, "height": 800}
                    )
                    page = context.new_page()
                    page.goto("/login")
                    page.get_by_label("Username").fill("admin")
                    page.get_by_label("Password").fill(password)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_selector(".who")
                    for name, path in pages.items():
                        page.goto(path)
                        page.wait_for_load_state("domcontentloaded")
                        page.screenshot(path=str(OUT / f"{name}-{scheme}.png"))
                        print(f"{name}-{scheme}.png")
                    context.close()
                browser.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
