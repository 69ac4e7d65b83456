"""A bounded property-based fuzz pass over our own OpenAPI document (schemathesis).

The API runs for real: hypercorn on 127.0.0.1 port 0, in a worker thread's event loop
(anyio's blocking portal), over a migrated SQLite file seeded with a parsed DAG, runs and
task instances, among them a run whose conf, rendered fields and XCom are odd documents
written straight to the database (nested 400 levels deep, lone surrogates, a large value).
For every operation, schemathesis draws a few valid requests (and a few invalid ones) from
the document, sends them with an admin token over a real socket, and
checks that no response is a 5xx and that every documented response matches its schema.

Bounded by examples, not by the clock: every operation gets the same few examples in each
mode (derandomized, no example database), so what is covered does not depend on how busy
the machine is; the test's own timeout is raised to match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from airflow_sc.api import ApiContext, prepare_context, serve_api
from airflow_sc.auth import Role
from airflow_sc.config import load_settings
from airflow_sc.db import Database
from airflow_sc.db.engine import open_database
from airflow_sc.runtime import Shutdown
from tests.api.conftest import role_token, seed_role_users
from tests.api.dag_seeds import example_dag, store_dags
from tests.api.test_dag_runs_rows import add_run, add_ti, add_xcom

#: Examples drawn per operation and generation mode.
EXAMPLES_PER_OPERATION = 5
#: Operations whose responses are not JSON documents (streams) are only checked for 5xx.
STREAMING = {"get_log"}
#: Operations that fail here because of code owned elsewhere, with the reason (remove an
#: entry with its fix).
KNOWN_ISSUES: dict[str, str] = {}


@dataclass
class FuzzTarget:
    url: str
    token: str


def _odd_document() -> dict[str, Any]:
    """What older versions could store: nested past what a response carries, lone
    surrogates (SQLite's JSON keeps them as escapes), a large value."""
    deep: Any = 1
    for _ in range(400):
        deep = {"a": deep}
    return {"deep": deep, "text\udc00": ["lone \ud800"], "big": "x" * 100_000}


async def _seed(db: Database, home: Path, now: datetime) -> None:
    fileloc = home / "etl.py"
    await store_dags(db, fileloc, [example_dag("etl", fileloc, tags=["fuzz"])], now=now)
    await add_run(db, "etl", "done", state="success")
    await add_run(db, "etl", "broken", state="failed", offset_hours=1)
    await add_ti(db, "etl", "done", "extract")
    await add_ti(db, "etl", "broken", "extract", state="failed")
    odd = _odd_document()
    odd_run = await add_run(db, "etl", "odd", state="success", offset_hours=2, conf=odd)
    await add_ti(db, "etl", "odd", "extract", rendered_fields=odd)
    await add_xcom(db, odd_run, "etl", "odd", "extract", "return_value", odd)


async def _serve(url: str, home: Path, *, task_status: anyio.abc.TaskStatus[FuzzTarget]) -> None:
    settings_ = load_settings(
        {"AIRFLOW_SC_HOME": str(home), "AIRFLOW_SC__API__PORT": "0"}, cwd=home
    )
    async with open_database(url) as db:
        await _seed(db, home, datetime.now(UTC))
        await seed_role_users(db)
        ctx = await prepare_context(ApiContext(settings=settings_, db=db, shutdown=Shutdown()))
        async with anyio.create_task_group() as tg:
            endpoint = await tg.start(
                lambda task_status: serve_api(
                    ctx, shutdown_trigger=anyio.sleep_forever, task_status=task_status
                )
            )
            token = role_token(ctx, Role.ADMIN, datetime.now(UTC))
            task_status.started(FuzzTarget(endpoint.url, token))


@pytest.fixture
def fuzz_target(sqlite_database_url: str, tmp_path: Path) -> Iterator[FuzzTarget]:
    """The API on a real socket, served from a worker thread's event loop."""
    portal: BlockingPortal
    with start_blocking_portal("asyncio") as portal:
        future, target = portal.start_task(_serve, sqlite_database_url, tmp_path)
        try:
            yield target
        finally:
            future.cancel()


def _operations(target: FuzzTarget) -> list[Any]:
    document = httpx.get(f"{target.url}/api/v2/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=target.url)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz_operation(operation: Any, target: FuzzTarget, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {target.token}"}
    checks = [not_a_server_error]
    if operation.definition.raw.get("operationId") not in STREAMING:
        checks.append(response_schema_conformance)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=target.url, headers=headers, checks=checks, timeout=10)

    run()


@pytest.mark.timeout(300)  # 96 s measured on 2 cores shared with other test runs (load 7.5)
def test_fuzz_every_operation_finds_no_500_and_no_schema_break(
    fuzz_target: FuzzTarget,
) -> None:
    operations = _operations(fuzz_target)
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, fuzz_target, mode)
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters)
            except (Exception, FailureGroup) as exc:  # one report for every failing operation
                if operation.label in KNOWN_ISSUES:
                    print(f"known issue, {operation.label}: {KNOWN_ISSUES[operation.label]}")
                    continue
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
